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
