// Creating a region has no window: a creator SIGKILLed at any point leaves either no region
// or a complete one, never a file that makes the next open fail; an agent racing a creator
// sees "no region" or a complete region. Busy (a creator loops while the test attaches):
// registered under RESOURCE_LOCK cpu.
#include "support/process.hpp"

#include <marllb/shm.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <random>
#include <thread>
#include <unistd.h>

using namespace marllb::shm;
using namespace marllb::test;

namespace {

using Cleanup = marllb::test::RegionCleanup;

// Entries of /dev/shm whose name contains `name`, other than `name` itself (temporary files).
int litter(const std::string &name) {
    int n = 0;
    DIR *d = opendir("/dev/shm");
    if (!d) return -1;
    while (const dirent *e = readdir(d))
        if (std::string(e->d_name) != name && std::string(e->d_name).find(name) != std::string::npos) ++n;
    closedir(d);
    return n;
}

} // namespace

TEST_CASE("create: an LB SIGKILLed at 500 random points of create never blocks the next open", "[create][kill]") {
    const auto name = unique_region("create_kill");
    Cleanup c{name};
    std::mt19937_64 rng(std::random_device{}());
    // A creator that creates and removes the region over and over: a kill after its start-up
    // lands inside create most of the time. Delays span twice the time until its first region
    // appears (start-up differs by build: a sanitizer's is far longer), plus 2 ms of creates.
    long first_us = 0;
    for (int k = 0; k < 3; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        Child creator({MARLLB_TEST_PEER, "create-loop", name});
        while (access(("/dev/shm/" + name).c_str(), F_OK) != 0 &&
               std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
        }
        first_us = std::max<long>(first_us, long(std::chrono::duration_cast<std::chrono::microseconds>(
                                                     std::chrono::steady_clock::now() - t0)
                                                     .count()));
        creator.kill_now(SIGKILL);
        creator.wait();
        (void)unlink_region(name);
    }
    std::uniform_int_distribution<long> delay_us(0, 2 * first_us + 2000);
    int created = 0, reopened = 0, failed = 0;
    for (int i = 0; i < 500; ++i) {
        {
            Child creator({MARLLB_TEST_PEER, "create-loop", name});
            REQUIRE(creator.pid() > 0);
            std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
            creator.kill_now(SIGKILL);
            REQUIRE(creator.wait() == 128 + SIGKILL);
        }
        {
            auto lb = LbRegion::open(name);
            if (!lb) {
                ++failed;
                UNSCOPED_INFO("kill " << i << ": " << lb.error().message);
            } else if (lb->generation() == 1) {
                ++created;
            } else {
                ++reopened;
            }
        } // closed before it is removed
        (void)unlink_region(name);
    }
    std::printf("create kills: 500 (delays 0..%ld us), next open created %d, reopened a complete region %d, "
                "failed %d\n", 2 * first_us + 2000, created, reopened, failed);
    CHECK(failed == 0);
    CHECK(litter(name) == 0);
}

TEST_CASE("create: an agent racing a creator sees no region or a complete one, never a half-made file",
          "[create][race]") {
    const auto name = unique_region("create_race");
    Cleanup c{name};
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_ALLOW_STALE; // the creator closes each region it made
    int ok = 0, none = 0, not_ready = 0, bad = 0;
    {
        Child creator({MARLLB_TEST_PEER, "create-loop", name});
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (std::chrono::steady_clock::now() < end) {
            auto a = AgentRegion::attach(name, opts);
            if (a) ++ok;
            else if (a.error().code == Errc::no_region) ++none;
            else if (a.error().code == Errc::not_ready) ++not_ready;
            else {
                ++bad;
                UNSCOPED_INFO(a.error().message);
            }
        }
        creator.kill_now(SIGKILL);
    }
    std::printf("racing attaches: complete %d, no region %d, being created %d, half-made %d\n", ok, none,
                not_ready, bad);
    CHECK(bad == 0);
    CHECK(ok > 0);
}
