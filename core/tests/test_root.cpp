// Lifecycle cases that need root (mounting a tmpfs). When the process cannot mount, the test
// exits 77, which ctest reports as skipped (SKIP_RETURN_CODE), never as passed.
#include "support/process.hpp"

#include <marllb/shm.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/mount.h>
#include <unistd.h>

using namespace marllb::shm;

TEST_CASE("a full tmpfs fails create with a clear error and leaves no file", "[lifecycle][root]") {
    const auto name = marllb::test::unique_region("full_tmpfs");
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_RAW_RESERVOIRS; // 408 KiB into a 64 KiB tmpfs
    char dir[] = "/tmp/marllb_full_XXXXXX";
    REQUIRE(mkdtemp(dir));
    if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0) {
        std::perror("mount tmpfs");
        std::fprintf(stderr, "SKIPPED: mounting a tmpfs needs root (CAP_SYS_ADMIN)\n");
        rmdir(dir);
        std::exit(77);
    }
    opts.dir = dir;
    auto lb = LbRegion::create(name, opts);
    const bool left = access((std::string(dir) + "/" + name).c_str(), F_OK) == 0;
    umount(dir);
    rmdir(dir);
    REQUIRE_FALSE(lb);
    CHECK(lb.error().code == Errc::no_space);
    CHECK_THAT(lb.error().message, Catch::Contains("no space left"));
    CHECK_FALSE(left);
}

namespace {
// Reserves huge pages and mounts a hugetlbfs in a temporary directory; puts everything back.
struct HugetlbfsMount {
    std::string dir;
    long saved_pages = -1;
    bool mounted = false;
    static long read_pages() {
        long n = -1;
        if (FILE *f = std::fopen("/proc/sys/vm/nr_hugepages", "r")) {
            if (std::fscanf(f, "%ld", &n) != 1) n = -1;
            std::fclose(f);
        }
        return n;
    }
    static bool write_pages(long n) {
        FILE *f = std::fopen("/proc/sys/vm/nr_hugepages", "w");
        if (!f) return false;
        const bool ok = std::fprintf(f, "%ld\n", n) > 0;
        return std::fclose(f) == 0 && ok;
    }
    // Empty string: ready. Otherwise why it cannot be (the test is then skipped).
    std::string setup() {
        saved_pages = read_pages();
        if (saved_pages < 0) return "cannot read /proc/sys/vm/nr_hugepages";
        if (!write_pages(saved_pages + 4)) return "cannot reserve huge pages (needs root)";
        char tmpl[] = "/tmp/marllb_huge_XXXXXX";
        if (!mkdtemp(tmpl)) return "mkdtemp failed";
        dir = tmpl;
        if (mount("none", dir.c_str(), "hugetlbfs", 0, nullptr) != 0) return "cannot mount hugetlbfs (needs root)";
        mounted = true;
        return "";
    }
    ~HugetlbfsMount() {
        if (mounted) umount(dir.c_str());
        if (!dir.empty()) rmdir(dir.c_str());
        if (saved_pages >= 0) write_pages(saved_pages); // the system setting as it was
    }
};
} // namespace

TEST_CASE("huge pages on a real hugetlbfs mount: create, attach, both directions, reopen", "[hugepages][root]") {
    const auto name = marllb::test::unique_region("huge_real");
    std::string why;
    {
        HugetlbfsMount hp;
        why = hp.setup();
        if (why.empty()) {
            auto opts = default_options();
            opts.flags |= MARLLB_OPT_HUGEPAGES | MARLLB_OPT_RAW_RESERVOIRS;
            opts.dir = hp.dir.c_str();
            {
                auto lb = LbRegion::create(name, opts);
                REQUIRE(lb);
                CHECK(lb->notes().empty());
                CHECK(lb->huge_pages());
                CHECK(lb->size() == 2u * 1024 * 1024);
                auto agent = AgentRegion::attach(name, opts);
                REQUIRE(agent);
                marllb_msg_out_t m{};
                static marllb_reservoir_data_t raw, got;
                raw.fct[3].values[5] = 1.5f;
                REQUIRE(lb->publish(m, &raw) == 1);
                Observation obs;
                REQUIRE(agent->read_newest(obs) == Errc::ok);
                CHECK(obs.msg.sequence_id == 1);
                REQUIRE(agent->read_reservoirs(1, got) == Errc::ok);
                CHECK(got.fct[3].values[5] == 1.5f);
                marllb_msg_in_t a{};
                a.sequence_id = 1;
                a.num_servers = 2;
                a.weights[0] = a.weights[1] = 1.0f;
                REQUIRE(marllb_alias_build(a.weights, 2, a.alias_table) == MARLLB_OK);
                REQUIRE(agent->write_action(a, 1) == Errc::ok);
                CHECK(lb->poll_action().status == MARLLB_POLL_APPLIED);
            }
            auto again = LbRegion::reopen(name, opts); // a restarted LB on the same huge page
            REQUIRE(again);
            CHECK(again->generation() == 2);
            CHECK(again->poll_action().status == MARLLB_POLL_APPLIED); // the action in force
            CHECK(HugetlbfsMount::read_pages() == hp.saved_pages + 4);
            (void)unlink_region(name, opts);
        }
    }
    if (!why.empty()) {
        std::fprintf(stderr, "SKIPPED: %s\n", why.c_str());
        std::exit(77);
    }
}
