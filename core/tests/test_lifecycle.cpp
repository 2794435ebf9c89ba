// Lifecycle: create, reopen, attach, close, unlink; each failed attach gets its own error.
#include "support/process.hpp"

#include <marllb/shm.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <csignal>
#include <cstdio>
#include <optional>
#include <span>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace marllb::shm;
using marllb::test::unique_region;

namespace {

std::string path_of(const std::string &name) { return "/dev/shm/" + name; }

template <class T> void pwrite_at(const std::string &name, off_t off, T value) {
    const int fd = ::open(path_of(name).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, &value, sizeof value, off) == ssize_t(sizeof value));
    close(fd);
}

using Cleanup = marllb::test::RegionCleanup;

// The highest descriptor of this process that names region `name`, or -1.
int highest_fd_of(const std::string &name) {
    int found = -1;
    for (int fd = 0; fd < 1024; ++fd) {
        char link[64], target[512];
        std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        const ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0 && std::string(target, std::size_t(n)) == path_of(name)) found = fd;
    }
    return found;
}

// An agent attached by a static initialiser, before the library's own initialisers may have
// run (the test's objects come first in the link): the fork handler must still know it.
struct AttachedAtStart {
    std::string name = unique_region("static");
    std::optional<LbRegion> lb;
    std::optional<AgentRegion> agent;
    AttachedAtStart() {
        if (auto l = LbRegion::create(name)) lb.emplace(std::move(*l));
        if (auto a = AgentRegion::attach(name)) agent.emplace(std::move(*a));
    }
    ~AttachedAtStart() { (void)unlink_region(name); }
};
AttachedAtStart attached_at_start;

// A pid no process has: a child that has exited and been reaped.
pid_t dead_pid() {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    REQUIRE(pid > 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return pid;
}

} // namespace

TEST_CASE("create makes a region an agent can attach to, create again says it exists", "[lifecycle]") {
    const auto name = unique_region("create");
    Cleanup c{name};
    auto lb = LbRegion::create(name);
    REQUIRE(lb);
    CHECK(lb->size() == MARLLB_REGION_SIZE_BASE);
    CHECK(lb->generation() == 1);
    auto agent = AgentRegion::attach(name);
    REQUIRE(agent);
    CHECK_FALSE(agent->has_reservoirs());

    auto again = LbRegion::create(name);
    REQUIRE_FALSE(again);
    CHECK(again.error().code == Errc::exists);
    CHECK_THAT(again.error().message, Catch::Contains("already exists"));
}

TEST_CASE("create in a missing directory, or in a file, says which", "[lifecycle]") {
    char tmp[] = "/tmp/marllb_dir_XXXXXX";
    REQUIRE(mkdtemp(tmp) != nullptr);
    const std::string base = tmp, file = base + "/file", missing = base + "/missing";
    const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    close(fd);
    const auto create_in = [](const std::string &dir) {
        Options o = default_options();
        o.dir = dir.c_str();
        return LbRegion::create(unique_region("dir"), o);
    };
    auto in_missing = create_in(missing);
    auto in_file = create_in(file);
    unlink(file.c_str());
    rmdir(tmp);
    REQUIRE_FALSE(in_missing);
    CHECK(in_missing.error().code == Errc::invalid);
    CHECK_THAT(in_missing.error().message, Catch::Contains(missing + ": no such directory"));
    REQUIRE_FALSE(in_file);
    CHECK(in_file.error().code == Errc::invalid);
    CHECK_THAT(in_file.error().message, Catch::Contains(file + ": it, or a folder on its path, is not a directory"));
}

TEST_CASE("the region file is private (0600) by default and 0660 when group-shared", "[lifecycle]") {
    const auto name = unique_region("mode");
    Cleanup c{name};
    struct stat st{};
    {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        REQUIRE(stat(path_of(name).c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
    }
    REQUIRE(unlink_region(name));
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_GROUP_SHARED;
    auto lb = LbRegion::create(name, opts);
    REQUIRE(lb);
    REQUIRE(stat(path_of(name).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0660);
}

TEST_CASE("each side maps the other side's section read-only", "[lifecycle]") {
    const auto name = unique_region("prot");
    Cleanup c{name};
    auto lb = LbRegion::create(name);
    REQUIRE(lb);
    auto agent = AgentRegion::attach(name);
    REQUIRE(agent);
    // A write to the peer's page must fault: check in a forked child so the test survives.
    // The child never reaches _exit(0); how it dies depends on who handles SIGSEGV (the
    // default action, or a sanitizer's report).
    auto faults = [](unsigned char *p) {
        const pid_t pid = fork();
        if (pid == 0) {
            signal(SIGSEGV, SIG_DFL);
            *reinterpret_cast<volatile unsigned char *>(p) = 1;
            _exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    };
    // The region's own pages, as each side maps them (a read-only view: the write must fault).
    auto page = [](std::span<const std::byte> m, std::size_t offset) {
        return const_cast<unsigned char *>(reinterpret_cast<const unsigned char *>(m.data())) + offset;
    };
    CHECK(faults(page(lb->memory(), MARLLB_ACTION_OFFSET)));        // LB -> action section
    CHECK(faults(page(agent->memory(), 0)));                        // agent -> header
    CHECK(faults(page(agent->memory(), MARLLB_RING_OFFSET + 64)));  // agent -> ring
}

TEST_CASE("attach reports each failure with its own error", "[lifecycle]") {
    const auto name = unique_region("attach");
    Cleanup c{name};

    SECTION("no region") {
        auto a = AgentRegion::attach(name);
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::no_region);
        CHECK_THAT(a.error().message, Catch::Contains("start the LB first"));
    }
    SECTION("bad name") {
        auto a = AgentRegion::attach("a/b");
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::invalid);
    }
    SECTION("wrong magic") {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        pwrite_at<std::uint64_t>(name, offsetof(marllb_region_header_t, magic), 0x1234);
        auto a = AgentRegion::attach(name);
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::bad_magic);
        CHECK_THAT(a.error().message, Catch::Contains("not a marllb region"));
    }
    SECTION("zero magic while the LB still holds it: being created") {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        pwrite_at<std::uint64_t>(name, offsetof(marllb_region_header_t, magic), 0);
        auto a = AgentRegion::attach(name);
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::not_ready);
    }
    SECTION("wrong ABI version") {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        pwrite_at<std::uint32_t>(name, offsetof(marllb_region_header_t, abi_version), 2);
        auto a = AgentRegion::attach(name);
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::bad_version);
        CHECK_THAT(a.error().message, Catch::Contains("ABI version 2"));
    }
    SECTION("wrong section table") {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        pwrite_at<std::uint32_t>(name, offsetof(marllb_region_header_t, msg_out_size), 2840);
        auto a = AgentRegion::attach(name);
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::bad_layout);
    }
    SECTION("truncated file") {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        REQUIRE(truncate(path_of(name).c_str(), 8192) == 0);
        auto a = AgentRegion::attach(name);
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::bad_size);
        CHECK_THAT(a.error().message, Catch::Contains("8192 bytes"));
    }
    SECTION("file smaller than a header") {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        REQUIRE(truncate(path_of(name).c_str(), 100) == 0);
        auto a = AgentRegion::attach(name);
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::bad_size);
    }
    SECTION("file grown beyond its header's size") {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        REQUIRE(truncate(path_of(name).c_str(), MARLLB_REGION_SIZE_BASE + 4096) == 0);
        auto a = AgentRegion::attach(name);
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::bad_size);
    }
    SECTION("a region left by a dead creator is stale, unless stale is allowed") {
        marllb::test::Child creator({MARLLB_TEST_PEER, "create", name});
        REQUIRE(creator.wait() == 0); // created the region, then exited without unlinking
        auto a = AgentRegion::attach(name);
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::stale);
        CHECK_THAT(a.error().message, Catch::Contains("is gone"));
        auto opts = default_options();
        opts.flags |= MARLLB_OPT_ALLOW_STALE;
        CHECK(AgentRegion::attach(name, opts));
    }
    SECTION("a second agent is refused while the first is attached") {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        auto first = AgentRegion::attach(name);
        REQUIRE(first);
        auto second = AgentRegion::attach(name);
        REQUIRE_FALSE(second);
        CHECK(second.error().code == Errc::busy);
    }
}

TEST_CASE("an LB replaces a region whose creator died before finishing it, and says so", "[lifecycle][create]") {
    const auto name = unique_region("halfmade");
    Cleanup c{name};
    SECTION("an empty file nobody holds") {
        const int fd = ::open(path_of(name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
        REQUIRE(fd >= 0);
        close(fd);
    }
    SECTION("a full-size file whose magic was never written") {
        { REQUIRE(LbRegion::create(name)); }
        pwrite_at<std::uint64_t>(name, offsetof(marllb_region_header_t, magic), 0);
    }
    auto agent = AgentRegion::attach(name);
    REQUIRE_FALSE(agent);
    CHECK(agent.error().code == Errc::stale);
    CHECK_THAT(agent.error().message, Catch::Contains("start the LB"));
    auto lb = LbRegion::open(name);
    REQUIRE(lb);
    CHECK(lb->generation() == 1);
    CHECK_THAT(lb->notes(), Catch::Contains("replaced"));
    CHECK(AgentRegion::attach(name));
}

TEST_CASE("an LB does not replace a file that is no marllb region", "[lifecycle][create]") {
    const auto name = unique_region("foreign");
    Cleanup c{name};
    { REQUIRE(LbRegion::create(name)); }
    pwrite_at<std::uint64_t>(name, offsetof(marllb_region_header_t, magic), 0x1234);
    auto lb = LbRegion::open(name);
    REQUIRE_FALSE(lb);
    CHECK(lb.error().code == Errc::bad_magic);
}

TEST_CASE("a FIFO or a symbolic link at a region's name is refused and left as it was", "[lifecycle][create]") {
    const auto name = unique_region("notreg");
    Cleanup c{name};
    SECTION("a FIFO") {
        REQUIRE(mkfifo(path_of(name).c_str(), 0600) == 0);
        auto lb = LbRegion::open(name);
        REQUIRE_FALSE(lb);
        CHECK(lb.error().code == Errc::bad_magic);
        CHECK_THAT(lb.error().message, Catch::Contains("is a FIFO, not a marllb region"));
        auto agent = AgentRegion::attach(name);
        REQUIRE_FALSE(agent);
        CHECK_THAT(agent.error().message, Catch::Contains("a FIFO"));
        struct stat st{};
        REQUIRE(lstat(path_of(name).c_str(), &st) == 0);
        CHECK(S_ISFIFO(st.st_mode)); // not renamed over
        auto gone = unlink_region(name);
        REQUIRE_FALSE(gone); // and unlink removes only regions
        CHECK_THAT(gone.error().message, Catch::Contains("not a regular file"));
        ::unlink(path_of(name).c_str());
    }
    SECTION("a symbolic link, even to an empty file (which would look half-made)") {
        const auto target = path_of(name) + ".target";
        const int fd = ::open(target.c_str(), O_CREAT | O_WRONLY, 0600);
        REQUIRE(fd >= 0);
        close(fd);
        REQUIRE(symlink(target.c_str(), path_of(name).c_str()) == 0);
        auto lb = LbRegion::open(name);
        REQUIRE_FALSE(lb);
        CHECK_THAT(lb.error().message, Catch::Contains("is a symbolic link"));
        struct stat st{};
        REQUIRE(lstat(path_of(name).c_str(), &st) == 0);
        CHECK(S_ISLNK(st.st_mode));
        REQUIRE(stat(target.c_str(), &st) == 0);
        CHECK(st.st_size == 0); // the target was not written
        ::unlink(target.c_str());
        ::unlink(path_of(name).c_str());
    }
}

TEST_CASE("an LB's open removes the temporary names of creators that died, not of live ones", "[lifecycle][create]") {
    const auto name = unique_region("leftover");
    Cleanup c{name};
    const pid_t dead = dead_pid();
    const auto of_dead = "/dev/shm/." + name + ".creating." + std::to_string(dead) + ".3";
    const auto of_live = "/dev/shm/." + name + ".creating." + std::to_string(getpid()) + ".4";
    const auto other = "/dev/shm/." + name + ".creating.notapid";
    for (const auto &p : {of_dead, of_live, other}) {
        const int fd = ::open(p.c_str(), O_CREAT | O_WRONLY, 0600);
        REQUIRE(fd >= 0);
        close(fd);
    }
    { REQUIRE(LbRegion::open(name)); }
    CHECK(access(of_dead.c_str(), F_OK) != 0);
    CHECK(access(of_live.c_str(), F_OK) == 0);
    CHECK(access(other.c_str(), F_OK) == 0);
    ::unlink(of_live.c_str());
    ::unlink(other.c_str());
}

TEST_CASE("an LB's open never removes a file another process holds, whatever its name's pid", "[lifecycle][create]") {
    // The pid in .NAME.creating.PID.N says nothing about processes of another pid namespace
    // sharing the directory (a creator in a container has a pid this one cannot see), and a
    // region's own name may have that form (names may start with '.'). What a live creator or
    // LB always has is the LB lock byte of the file.
    const auto name = unique_region("heldtemp");
    Cleanup c{name};
    const pid_t dead = dead_pid();
    int status = 0;
    // 1. A live LB's region named like a dead creator's temporary file.
    const auto region_like = "." + name + ".creating." + std::to_string(dead) + ".1";
    Cleanup c2{region_like};
    auto holder = LbRegion::create(region_like);
    REQUIRE(holder);
    // 2. A creator's temporary file, held (LB lock byte) by a live process whose pid, as
    // written in the name, is not alive here: the stand-in for a creator in another pid namespace.
    const auto held = "/dev/shm/." + name + ".creating." + std::to_string(dead) + ".2";
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    const pid_t creator = fork();
    if (creator == 0) {
        const int fd = ::open(held.c_str(), O_CREAT | O_RDWR, 0600);
        struct flock fl{};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = 0;
        fl.l_len = 1;
        const char ok = (fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0) ? 1 : 0;
        (void)!write(ready[1], &ok, 1);
        pause();
        _exit(0);
    }
    REQUIRE(creator > 0);
    char ok = 0;
    REQUIRE(read(ready[0], &ok, 1) == 1);
    REQUIRE(ok == 1);
    { REQUIRE(LbRegion::open(name)); }
    CHECK(access(("/dev/shm/" + region_like).c_str(), F_OK) == 0); // the live LB's region
    CHECK(access(held.c_str(), F_OK) == 0);                          // the held temporary file
    kill(creator, SIGKILL);
    waitpid(creator, &status, 0);
    ::unlink(held.c_str());
    close(ready[0]);
    close(ready[1]);
}

TEST_CASE("options the machine cannot honour are refused: numa_node below -1, num_servers above 64", "[lifecycle]") {
    const auto name = unique_region("badopts");
    Cleanup c{name};
    auto opts = default_options();
    opts.numa_node = -2;
    auto lb = LbRegion::create(name, opts);
    REQUIRE_FALSE(lb);
    CHECK(lb.error().code == Errc::invalid);
    CHECK_THAT(lb.error().message, Catch::Contains("numa_node is -2"));
    opts = default_options();
    opts.num_servers = 65;
    lb = LbRegion::create(name, opts);
    REQUIRE_FALSE(lb);
    CHECK_THAT(lb.error().message, Catch::Contains("num_servers is 65"));
    opts.num_servers = 7;
    { REQUIRE(LbRegion::create(name, opts)); }
    auto agent = AgentRegion::attach(name, opts); // the LB declares; an agent's options do not
    REQUIRE_FALSE(agent);
    CHECK(agent.error().code == Errc::invalid);
}

TEST_CASE("reopen refuses a live LB, and continues a dead one's region", "[lifecycle]") {
    const auto name = unique_region("reopen");
    Cleanup c{name};
    marllb_msg_out_t msg{};
    {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        for (int i = 0; i < 6; ++i) lb->publish(msg);
        auto second = LbRegion::reopen(name);
        REQUIRE_FALSE(second);
        CHECK(second.error().code == Errc::busy);
    } // the first LB goes, and its lock with it
    std::optional<LbRegion> restarted;
    {
        auto r = LbRegion::reopen(name);
        REQUIRE(r);
        restarted.emplace(std::move(*r));
    }
    CHECK(restarted->generation() == 2);
    CHECK(restarted->next_sequence() == 7);
    CHECK(restarted->reopen_report().repaired_slots == 0);
    CHECK(restarted->publish(msg) == 7);
    restarted.reset();

    auto opened = LbRegion::open(name);
    REQUIRE(opened);
    CHECK(opened->generation() == 3);
    CHECK(opened->next_sequence() == 8);
    const auto fresh = unique_region("open_fresh");
    Cleanup c2{fresh};
    auto created = LbRegion::open(fresh);
    REQUIRE(created);
    CHECK(created->generation() == 1);
}

TEST_CASE("reopen refuses a ring whose sequence ids no LB reaches, instead of wrapping them to 0", "[lifecycle]") {
    const auto name = unique_region("junkseq");
    Cleanup c{name};
    {
        auto lb = LbRegion::create(name);
        REQUIRE(lb);
        marllb_msg_out_t msg{};
        REQUIRE(lb->publish(msg) == 1);
    }
    const off_t published = MARLLB_RING_OFFSET + offsetof(marllb_obs_ring_t, published_seq);
    const off_t slot1_lock = MARLLB_RING_OFFSET + offsetof(marllb_obs_ring_t, slots) + sizeof(marllb_obs_slot_t) +
                             offsetof(marllb_obs_slot_t, lock);
    SECTION("published_seq") { pwrite_at<std::uint64_t>(name, published, ~std::uint64_t(0)); }
    SECTION("a slot's lock") { pwrite_at<std::uint64_t>(name, slot1_lock, ~std::uint64_t(1)); }
    auto again = LbRegion::reopen(name);
    REQUIRE_FALSE(again);
    CHECK(again.error().code == Errc::bad_layout);
    CHECK_THAT(again.error().message, Catch::Contains("beyond any an LB publishes") && Catch::Contains("rm "));
    CHECK(LbRegion::open(name).error().code == Errc::bad_layout); // open says the same, and makes nothing
}

TEST_CASE("close releases a role at once: another LB reopens, another agent attaches", "[lifecycle]") {
    const auto name = unique_region("close");
    Cleanup c{name};
    auto lb = LbRegion::create(name);
    REQUIRE(lb);
    auto agent = AgentRegion::attach(name);
    REQUIRE(agent);
    CHECK(lb->is_open());
    CHECK(AgentRegion::attach(name).error().code == Errc::busy);
    agent->close();
    CHECK_FALSE(agent->is_open());
    agent->close(); // a second close does nothing
    CHECK(AgentRegion::attach(name)); // the agent role is free again

    marllb_msg_out_t msg{};
    CHECK(lb->publish(msg) == 1);
    CHECK(LbRegion::reopen(name).error().code == Errc::busy);
    lb->close();
    CHECK_FALSE(lb->is_open());
    auto next = LbRegion::reopen(name); // the LB role is free, the region kept
    REQUIRE(next);
    CHECK(next->next_sequence() == 2);
}

// A child forked after attach that lives on (a worker of a multiprocessing pool, say) while
// the parent closes: the agent role goes with the parent's close, the LB role stays with the
// child (an LB that forks and lets its parent exit goes on as the LB). The child's copy of the
// agent handle still reads the live region, and its heartbeat does not speak for the agent.
TEST_CASE("a child forked after attach keeps no agent role, and keeps the LB's", "[lifecycle][fork]") {
    const auto name = unique_region("fork");
    Cleanup c{name};
    auto lb = LbRegion::create(name);
    REQUIRE(lb);
    auto agent = AgentRegion::attach(name);
    REQUIRE(agent);
    int hold[2], said[2];
    REQUIRE(pipe(hold) == 0);
    REQUIRE(pipe(said) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        close(hold[1]);
        // Its own attach is refused while the parent holds the role: 'b' for busy.
        char seen = AgentRegion::attach(name).error().code == Errc::busy ? 'b' : '?';
        (void)!write(said[1], &seen, 1);
        char go;
        if (read(hold[0], &go, 1) != 1) _exit(1);
        // After the parent's close and its publish of observation 1: 'r' if the copy reads it.
        agent->heartbeat();
        seen = agent->published_sequence() == 1 ? 'r' : '?';
        (void)!write(said[1], &seen, 1);
        (void)!read(hold[0], &go, 1); // lives until the parent closes its end
        _exit(0);
    }
    close(hold[0]);
    char seen = 0;
    REQUIRE(read(said[0], &seen, 1) == 1);
    CHECK(seen == 'b');
    agent->close();
    marllb_msg_out_t msg{};
    REQUIRE(lb->publish(msg) == 1);
    REQUIRE(write(hold[1], "g", 1) == 1);
    REQUIRE(read(said[0], &seen, 1) == 1);
    CHECK(seen == 'r');
    CHECK_FALSE(lb->agent_alive(10'000'000'000ull)); // the child's heartbeat stamped nothing
    CHECK(AgentRegion::attach(name)); // the role is free while the child lives
    lb->close();
    CHECK(LbRegion::reopen(name).error().code == Errc::busy); // the LB role lives on in the child
    close(hold[1]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    CHECK(LbRegion::reopen(name)); // free once the child is gone
    close(said[0]);
    close(said[1]);
}

// The fork handler moves only descriptors that still name the region file: one closed behind
// the handle's back and reused for another file (a double close, a closerange) is left alone.
TEST_CASE("a fork leaves alone an agent descriptor that was closed and reused for another file", "[lifecycle][fork]") {
    const auto name = unique_region("forkreuse");
    Cleanup c{name};
    auto lb = LbRegion::create(name);
    REQUIRE(lb);
    auto agent = AgentRegion::attach(name);
    REQUIRE(agent);
    const int agent_fd = highest_fd_of(name); // the agent's: the LB's was opened first
    REQUIRE(agent_fd >= 0);
    char log_path[] = "/tmp/marllb_forklog_XXXXXX";
    const int made = mkstemp(log_path);
    REQUIRE(made >= 0);
    close(made);
    close(agent_fd); // behind the handle's back
    const int log = ::open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    unlink(log_path);
    REQUIRE(log == agent_fd); // the lowest free number: the handle's
    REQUIRE(write(log, "A", 1) == 1);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) _exit(write(log, "B", 1) == 1 ? 0 : 1);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    REQUIRE(write(log, "C", 1) == 1);
    char got[8] = {};
    const int reader = ::open(("/proc/self/fd/" + std::to_string(log)).c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(reader >= 0);
    CHECK(pread(reader, got, sizeof got, 0) == 3);
    close(reader);
    CHECK(std::string(got) == "ABC"); // appended in order: the child's copy kept its O_APPEND description
    agent->close(); // closes `log`, the number it holds
}

TEST_CASE("an agent attached by a static initialiser keeps no role in a fork child either", "[lifecycle][fork]") {
    REQUIRE(attached_at_start.agent);
    int hold[2], ran[2];
    REQUIRE(pipe(hold) == 0);
    REQUIRE(pipe(ran) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        close(hold[1]);
        (void)!write(ran[1], "r", 1); // its fork() has returned: the handler has run
        char byte;
        (void)!read(hold[0], &byte, 1); // alive while the parent closes and attaches again
        _exit(0);
    }
    close(hold[0]);
    char byte;
    REQUIRE(read(ran[0], &byte, 1) == 1);
    attached_at_start.agent.reset();
    CHECK(AgentRegion::attach(attached_at_start.name));
    close(hold[1]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    close(ran[0]);
    close(ran[1]);
}

// A handle's slot is forgotten by descriptor and address: when another handle's descriptor
// was closed behind it and its number reused, closing the new handle must free its own slot,
// or a later fork child would remap over memory the closed handle no longer has.
TEST_CASE("closing a handle that reuses a closed descriptor's number forgets its own slot", "[lifecycle][fork]") {
    const auto first = unique_region("slot1"), second = unique_region("slot2");
    Cleanup c1{first}, c2{second};
    auto lb1 = LbRegion::create(first);
    auto lb2 = LbRegion::create(second);
    REQUIRE((lb1 && lb2));
    auto x = AgentRegion::attach(first);
    REQUIRE(x);
    const int fd = highest_fd_of(first);
    REQUIRE(fd >= 0);
    close(fd); // behind x's back
    std::optional<AgentRegion> y;
    if (auto a = AgentRegion::attach(second)) y.emplace(std::move(*a));
    REQUIRE(y);
    REQUIRE(highest_fd_of(second) == fd); // y took x's number
    auto *const y_base = const_cast<std::byte *>(y->memory().data());
    const std::size_t y_size = y->memory().size();
    y.reset();
    // Private memory where y was mapped, then y's region attached again at the same number.
    void *mine = mmap(y_base, y_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    REQUIRE(mine == static_cast<void *>(y_base));
    std::memset(mine, 0x5a, y_size);
    auto y2 = AgentRegion::attach(second);
    REQUIRE(y2);
    REQUIRE(highest_fd_of(second) == fd);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const auto *b = static_cast<const unsigned char *>(mine);
        _exit(std::all_of(b, b + y_size, [](unsigned char v) { return v == 0x5a; }) ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0)); // the child's private memory untouched
    munmap(mine, y_size);
    y2->close();
    (void)x; // x's destructor closes `fd` once more: already closed, EBADF
}

TEST_CASE("a file-size limit below the region size fails create with no space, and leaves no file", "[lifecycle]") {
    // A full tmpfs (needs root to mount) is tested by core_root_tests.
    const auto name = unique_region("full");
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_RAW_RESERVOIRS; // 408 KiB
    const pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl{65536, 65536};
        setrlimit(RLIMIT_FSIZE, &rl);
        auto lb = LbRegion::create(name, opts);
        const bool gone = access(path_of(name).c_str(), F_OK) != 0;
        _exit(!lb && lb.error().code == Errc::no_space && gone ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("huge pages where none can be had fall back to 4 KiB pages with a note that says why", "[lifecycle]") {
    const auto name = unique_region("huge");
    Cleanup c{name};
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_HUGEPAGES;
    auto lb = LbRegion::create(name, opts);
    REQUIRE(lb);
    CHECK(lb->size() == MARLLB_REGION_SIZE_BASE);
    CHECK_FALSE(lb->huge_pages());
    CHECK_THAT(lb->notes(), Catch::Contains("not a hugetlbfs mount: using 4 KiB pages"));
    CHECK(AgentRegion::attach(name));
}

TEST_CASE("memory binding to a NUMA node that exists works, to one that does not is refused", "[lifecycle]") {
    const auto name = unique_region("numa");
    Cleanup c{name};
    auto opts = default_options();
    opts.numa_node = 0;
    {
        auto lb = LbRegion::create(name, opts);
        REQUIRE(lb);
    }
    REQUIRE(unlink_region(name));
    opts.numa_node = 63;
    auto lb = LbRegion::create(name, opts);
    REQUIRE_FALSE(lb);
    CHECK_THAT(lb.error().message, Catch::Contains("NUMA node 63 does not exist"));
}
