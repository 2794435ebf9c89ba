// Region lifecycle: create, validate, lock a role, map with per-section protection.
//
// Roles are held with open-file-description locks (F_OFD_SETLK) on byte 0 (LB) and byte 1
// (agent) of the region file. The kernel drops them when the holder dies, so "is the LB
// alive?" at attach needs no pid bookkeeping (pids are only recorded for messages), and a
// second LB or agent on the same region is refused instead of becoming a second writer.
#include "internal.hpp"
#include "seqlock.hpp"

#include <hwloc.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <utility>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace marllb::shm {
namespace detail {

Error make_error(Errc code, const char *fmt, ...) {
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return Error{code, buf};
}

namespace {

constexpr off_t kLbLockByte = 0;
constexpr off_t kAgentLockByte = 1;

const char *dir_of(const Options &opts) noexcept { return opts.dir ? opts.dir : "/dev/shm"; }

const char *file_kind(mode_t mode) noexcept {
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISLNK(mode)) return "a symbolic link";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    return "not a regular file";
}

// Opens the file at a region's name for reading and writing, as a region only: a symbolic
// link is not followed (ELOOP) and anything but a regular file is refused before it is read
// (O_NONBLOCK: opening a FIFO must not wait for a peer). -1 with errno; ENOTREG-like cases
// set *kind to what is there.
int open_region_file(const std::string &path, const char **kind) {
    *kind = nullptr;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP) *kind = "a symbolic link";
        return -1;
    }
    struct stat st{};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *kind = file_kind(st.st_mode);
        ::close(fd);
        errno = EINVAL;
        return -1;
    }
    fcntl(fd, F_SETFL, 0); // a regular file: blocking I/O as usual
    return fd;
}

Error not_a_region_file(const std::string &path, const char *kind) {
    return make_error(Errc::bad_magic,
                      "%s is %s, not a marllb region (a region is a regular file, and links are not "
                      "followed): check the name, or remove it (rm %s) if it is yours",
                      path.c_str(), kind, path.c_str());
}

// The agent's one writable page (the action section) in a read-only mapping of the region.
int open_agent_page(unsigned char *base) noexcept {
    return mprotect(base + MARLLB_ACTION_OFFSET, MARLLB_PAGE_SIZE, PROT_READ | PROT_WRITE);
}

// A child forked after attach shares the agent's lock: the lock belongs to the open file
// description, and the child holds it twice, through its copy of the descriptor and through
// its copy of the mapping (a mapping keeps its file open). The child cannot act as the agent
// (write_action refuses another address space), but while it lived it would keep the role:
// the parent's close would not free it (a new agent, the parent itself included, is refused
// as busy), and the parent's death would not show. So a fork child moves every agent handle
// onto a new open file description of the same file, which holds no lock: a new mapping of
// it replaces the old at the same address (the same pages: the handle reads on as before),
// and the descriptor's number is pointed at it. The LB's lock stays shared: an LB that forks
// and lets its parent exit (a daemon) goes on as the LB in the child
// (docs/design/region-lifecycle.md, "Fork").
//
// A slot goes free -> filling -> ready when an attach has mapped the region, and back to free
// before the handle unmaps it. The fork handler runs in the child's only thread, on memory as
// it was at the fork, and acts on ready slots only. What keeps the inherited share, as before
// this handler: a fork while another thread is between taking the lock and registering its
// handle (or between forgetting it and closing it), handles beyond the slots, a descriptor
// that no longer names the region file (closed and reused behind the handle's back: it is
// left alone), and an open, mmap or mremap that fails in the child (mremap of huge pages
// before Linux 5.16, no /proc). clone() and _Fork() run no fork handlers.
struct AgentHandleSlot {
    std::atomic<int> state{0}; // 0 free, 1 filling, 2 ready
    // Atomic: forget_agent_handle reads them while another thread may free and refill the slot.
    std::atomic<int> fd{-1};
    std::atomic<unsigned char *> base{nullptr};
    std::size_t size = 0;
    dev_t dev = 0;
    ino_t ino = 0;
    bool huge_pages = false;
};
constexpr int kAgentHandleSlots = 64;
AgentHandleSlot g_agent_handles[kAgentHandleSlots];

bool same_file(int fd, const AgentHandleSlot &h) noexcept {
    struct stat st{};
    return fstat(fd, &st) == 0 && st.st_dev == h.dev && st.st_ino == h.ino;
}

// Async-signal-safe calls only, as in any fork handler.
void move_agent_handle_in_fork_child(const AgentHandleSlot &h) noexcept {
    const int fd = h.fd.load(std::memory_order_relaxed);
    if (!same_file(fd, h)) return; // closed behind the handle and reused: not the region's any more
    char path[32] = "/proc/self/fd/";
    char digits[12];
    int n = 0;
    for (unsigned v = unsigned(fd); n == 0 || v != 0; v /= 10) digits[n++] = char('0' + v % 10);
    char *end = path + 14;
    while (n > 0) *end++ = digits[--n];
    *end = '\0';
    // A new open file description of the same file, which holds no lock.
    const int fresh = ::open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fresh < 0) return; // keeps the inherited share
    const int prot = h.huge_pages ? PROT_READ | PROT_WRITE : PROT_READ;
    void *p = same_file(fresh, h) ? mmap(nullptr, h.size, prot, MAP_SHARED, fresh, 0) : MAP_FAILED;
    // Moved over the old mapping in one step (one mapping of one protection, so mremap takes
    // it): the handle's pages are never absent. Then the agent's own page made writable again.
    unsigned char *const base = h.base.load(std::memory_order_relaxed);
    if (p != MAP_FAILED && mremap(p, h.size, h.size, MREMAP_MAYMOVE | MREMAP_FIXED, base) == MAP_FAILED) {
        munmap(p, h.size);
        p = MAP_FAILED;
    }
    if (p != MAP_FAILED) {
        if (!h.huge_pages) (void)open_agent_page(base);
        (void)dup3(fresh, fd, O_CLOEXEC); // the old description's last reference in this process goes
    }
    ::close(fresh);
}

void move_agent_handles_in_fork_child() noexcept {
    for (const auto &h : g_agent_handles)
        if (h.state.load(std::memory_order_relaxed) == 2) move_agent_handle_in_fork_child(h);
}

// The handler is registered once: when the library is loaded, or at the first attach if that
// comes first (an attach from another static initialiser). Never blocking: a thread that finds
// the registration under way goes on without it (its handle keeps the inherited share), so a
// fork meanwhile cannot leave a child waiting on a guard for good, as a lazy static could.
// Zero before any initialiser runs (constant-initialised).
std::atomic<int> g_fork_handler{0}; // 0 not yet, 1 under way, 2 registered, 3 failed

bool fork_handler_registered() noexcept {
    int state = g_fork_handler.load(std::memory_order_acquire);
    if (state == 0 && g_fork_handler.compare_exchange_strong(state, 1, std::memory_order_acq_rel)) {
        state = pthread_atfork(nullptr, nullptr, move_agent_handles_in_fork_child) == 0 ? 2 : 3;
        g_fork_handler.store(state, std::memory_order_release);
    }
    return state == 2;
}
[[maybe_unused]] const bool g_fork_handler_at_load = fork_handler_registered();

void remember_agent_handle(const Mapping &m, bool huge_pages) noexcept {
    struct stat st{};
    if (!fork_handler_registered() || fstat(m.fd, &st) != 0) return;
    for (auto &h : g_agent_handles) {
        int free_slot = 0;
        if (!h.state.compare_exchange_strong(free_slot, 1, std::memory_order_relaxed)) continue;
        h.fd.store(m.fd, std::memory_order_relaxed);
        h.base.store(m.base, std::memory_order_relaxed);
        h.size = m.size;
        h.dev = st.st_dev;
        h.ino = st.st_ino;
        h.huge_pages = huge_pages;
        h.state.store(2, std::memory_order_release); // the fields before "ready" (for a fork in another thread)
        return;
    }
}

// By descriptor and address: a descriptor number alone may name another handle's slot, when
// that handle's descriptor was closed behind it and reused.
void forget_agent_handle(int fd, const unsigned char *base) noexcept {
    for (auto &h : g_agent_handles)
        if (h.state.load(std::memory_order_acquire) == 2 && h.fd.load(std::memory_order_relaxed) == fd &&
            h.base.load(std::memory_order_relaxed) == base) {
            h.state.store(0, std::memory_order_relaxed);
            return;
        }
}

// Tries to take the write lock on one byte. 0, EAGAIN (held by another), or an errno.
int lock_byte(int fd, off_t byte) noexcept {
    struct flock fl{};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
    return (errno == EACCES || errno == EAGAIN) ? EAGAIN : errno;
}

// True if another open file description holds a lock on `byte`.
bool byte_is_locked(int fd, off_t byte) noexcept {
    struct flock fl{};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return false;
    return fl.l_type != F_UNLCK;
}

Error errno_error(const char *what, const std::string &path, int err) {
    if (err == EACCES || err == EPERM)
        return make_error(Errc::permission,
                          "%s %s: permission denied; run both sides as the same user, or create "
                          "the region with MARLLB_OPT_GROUP_SHARED and a shared group",
                          what, path.c_str());
    if (err == ENOSPC || err == EFBIG)
        return make_error(Errc::no_space,
                          "%s %s: no space left (%s); free space in its directory "
                          "(df -h %s) or create it without raw reservoirs",
                          what, path.c_str(), std::strerror(err), path.c_str());
    if (err == ENOMEM) return make_error(Errc::no_memory, "%s %s: out of memory", what, path.c_str());
    return make_error(Errc::system, "%s %s: %s", what, path.c_str(), std::strerror(err));
}

// Binds [addr, addr+len) to one NUMA node with hwloc, before the pages are allocated.
std::string bind_to_node(void *addr, std::size_t len, int node) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) return "hwloc_topology_init failed";
    std::string problem;
    if (hwloc_topology_load(topo) != 0) {
        problem = "hwloc_topology_load failed";
    } else if (hwloc_obj_t obj = hwloc_get_numanode_obj_by_os_index(topo, unsigned(node)); !obj) {
        problem = "NUMA node " + std::to_string(node) + " does not exist on this machine (it has " +
                  std::to_string(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE)) + ")";
    } else if (hwloc_set_area_membind(topo, addr, len, obj->nodeset, HWLOC_MEMBIND_BIND,
                                      HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_MIGRATE) != 0) {
        problem = std::string("hwloc_set_area_membind: ") + std::strerror(errno);
    }
    hwloc_topology_destroy(topo);
    return problem;
}

// Maps the whole file read-only, then opens the role's own sections for writing. On huge
// pages the MMU protects whole huge pages only and every section shares the first one (the
// region is far below 2 MiB), so both roles map it writable: ownership is then kept by the
// API alone, which never writes the peer's fields.
Expected<unsigned char *> map_for_role(int fd, std::size_t size, Role role, const std::string &path,
                                       bool huge_pages) {
    void *p = mmap(nullptr, size, huge_pages ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return unexpected(errno_error("mmap", path, errno));
    auto *base = static_cast<unsigned char *>(p);
    int rc;
    if (huge_pages) {
        rc = 0;
    } else if (role == Role::agent) {
        rc = open_agent_page(base);
    } else {
        rc = mprotect(base, MARLLB_ACTION_OFFSET, PROT_READ | PROT_WRITE);
        if (rc == 0 && size > MARLLB_RESERVOIR_OFFSET)
            rc = mprotect(base + MARLLB_RESERVOIR_OFFSET, size - MARLLB_RESERVOIR_OFFSET,
                          PROT_READ | PROT_WRITE);
    }
    if (rc != 0) {
        int err = errno;
        munmap(base, size);
        return unexpected(errno_error("mprotect", path, err));
    }
    return base;
}

// Fills this process's page tables for the whole region (own sections writable), so the
// first publish or poll takes no page fault. Best effort: kernels before 5.14 lack it.
void populate_page_tables(unsigned char *base, std::size_t size, Role role) noexcept {
    auto populate = [](unsigned char *p, std::size_t n, bool write) {
        if (n) (void)madvise(p, n, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
    };
    const bool lb = role == Role::lb;
    populate(base, MARLLB_ACTION_OFFSET, lb);
    populate(base + MARLLB_ACTION_OFFSET, MARLLB_PAGE_SIZE, !lb);
    if (size > MARLLB_RESERVOIR_OFFSET)
        populate(base + MARLLB_RESERVOIR_OFFSET, size - MARLLB_RESERVOIR_OFFSET, lb);
}

} // namespace

std::uint64_t expected_region_size(std::uint32_t flags) noexcept {
    return (flags & MARLLB_FLAG_RAW_RESERVOIRS) ? MARLLB_REGION_SIZE_WITH_RESERVOIRS
                                                : MARLLB_REGION_SIZE_BASE;
}

Expected<std::string> region_path(std::string_view name, const Options &opts) {
    if (name.empty() || name.size() > 200 || name.find('/') != std::string_view::npos ||
        name == "." || name == "..")
        return unexpected(make_error(
            Errc::invalid, "bad region name '%.*s': use 1-200 characters without '/', e.g. marllb_lb0",
            int(name.size()), name.data()));
    if (opts.numa_node < -1)
        return unexpected(make_error(Errc::invalid,
                                     "numa_node is %d: use -1 (no binding) or the os index of a NUMA node of this "
                                     "machine (hwloc-ls lists them)",
                                     opts.numa_node));
    if (opts.num_servers > MARLLB_MAX_AS)
        return unexpected(make_error(Errc::invalid, "num_servers is %u: an LB has 1..64 servers (0: not declared)",
                                     opts.num_servers));
    return std::string(dir_of(opts)) + "/" + std::string(name);
}

Mapping::Mapping(Mapping &&o) noexcept
    : fd(std::exchange(o.fd, -1)), base(std::exchange(o.base, nullptr)),
      size(std::exchange(o.size, 0)), path(std::move(o.path)), notes(std::move(o.notes)) {}

Mapping &Mapping::operator=(Mapping &&o) noexcept {
    if (this != &o) {
        this->~Mapping();
        new (this) Mapping(std::move(o));
    }
    return *this;
}

Mapping::~Mapping() {
    if (fd >= 0) forget_agent_handle(fd, base); // first: a fork child must not move what is being unmapped
    if (base) munmap(base, size);
    if (fd >= 0) close(fd); // drops this process's role lock
}

marllb_reservoir_buffer_t *Mapping::reservoirs() const noexcept {
    if (!base || size < MARLLB_REGION_SIZE_WITH_RESERVOIRS) return nullptr;
    if (!(header()->flags & MARLLB_FLAG_RAW_RESERVOIRS)) return nullptr; // immutable after create
    return reinterpret_cast<marllb_reservoir_buffer_t *>(base + MARLLB_RESERVOIR_OFFSET);
}

namespace {

// The file a region is built in before it gets its name: O_TMPFILE (no name at all, so a
// creator killed at any point leaves nothing), or, where the file system lacks O_TMPFILE, a
// hidden temporary name removed on every failure path.
struct Unnamed {
    int fd = -1;
    std::string temp_path; // empty with O_TMPFILE
};

Error no_directory(const std::string &dir, int err) {
    return err == ENOTDIR ? make_error(Errc::invalid,
                                       "cannot create a region in %s: it, or a folder on its path, is not a directory; "
                                       "pass a directory (the default is /dev/shm)",
                                       dir.c_str())
                          : make_error(Errc::invalid, "cannot create a region in %s: no such directory", dir.c_str());
}

Expected<Unnamed> open_unnamed(const std::string &dir, std::string_view name, mode_t mode, bool want_temp_name) {
    Unnamed u;
    if (!want_temp_name) {
        u.fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
        if (u.fd >= 0) return u;
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
            if (errno == ENOENT || errno == ENOTDIR) return unexpected(no_directory(dir, errno));
            return unexpected(errno_error("create in", dir, errno));
        }
    }
    static unsigned counter = 0; // uniqueness within this process; the pid across processes
    u.temp_path = dir + "/." + std::string(name) + ".creating." + std::to_string(getpid()) + "." +
                  std::to_string(__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    u.fd = ::open(u.temp_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (u.fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return unexpected(no_directory(dir, errno));
        return unexpected(errno_error("create", u.temp_path, errno));
    }
    return u;
}

// Gives the finished region its name in one step. Without `replace`: only if the name is free
// (link fails with EEXIST otherwise). With it: over the half-made file the caller holds
// locked (rename replaces atomically). 0 or an errno.
int publish_name(const Unnamed &u, const std::string &path, bool replace) {
    if (u.temp_path.empty()) {
        const std::string proc = "/proc/self/fd/" + std::to_string(u.fd);
        if (linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) return 0;
        const int err = errno;
        if (err != ENOENT) return err; // ENOENT: no /proc; AT_EMPTY_PATH needs privilege but try
        return linkat(u.fd, "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH) == 0 ? 0 : errno;
    }
    const int rc = replace ? ::rename(u.temp_path.c_str(), path.c_str()) : ::link(u.temp_path.c_str(), path.c_str());
    return rc == 0 ? 0 : errno;
}

} // namespace

Expected<Mapping> create_mapping(std::string_view name, const Options &opts, bool replace) {
    auto path = region_path(name, opts);
    if (!path) return unexpected(path.error());
    const mode_t mode = (opts.flags & MARLLB_OPT_GROUP_SHARED) ? 0660 : 0600;

    Mapping m;
    m.path = *path;
    // Replacing needs a name to rename from; O_TMPFILE files can only be linked to a free name.
    auto u = open_unnamed(dir_of(opts), name, mode, replace);
    if (!u) return unexpected(u.error());
    m.fd = u->fd;
    // Until the name is published nobody can see the file; a failure removes the temporary name.
    auto fail = [&](Error e) -> Expected<Mapping> {
        if (!u->temp_path.empty()) ::unlink(u->temp_path.c_str());
        return unexpected(std::move(e));
    };
    const std::string &where = u->temp_path.empty() ? m.path : u->temp_path;
    if (fchmod(m.fd, mode) != 0) return fail(errno_error("fchmod", where, errno)); // umask
    // The LB lock belongs to the inode: taken now, it is held on the region from the moment
    // it has a name.
    if (int rc = lock_byte(m.fd, kLbLockByte); rc != 0)
        return fail(errno_error("lock", where, rc == EAGAIN ? EBUSY : rc));

    std::uint32_t flags = (opts.flags & MARLLB_OPT_RAW_RESERVOIRS) ? MARLLB_FLAG_RAW_RESERVOIRS : 0;
    std::uint64_t size = expected_region_size(flags);
    if (opts.flags & MARLLB_OPT_HUGEPAGES) {
        struct statfs sfs{};
        if (fstatfs(m.fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC) {
            const std::uint64_t hp = std::uint64_t(sfs.f_bsize);
            size = (size + hp - 1) / hp * hp;
            flags |= MARLLB_FLAG_HUGEPAGES;
        } else {
            m.notes = std::string("huge pages asked for, but ") + dir_of(opts) +
                      " is not a hugetlbfs mount: using 4 KiB pages. For huge pages mount one "
                      "(mount -t hugetlbfs none /dev/hugepages, pages reserved in "
                      "/proc/sys/vm/nr_hugepages) and pass it as the region's dir on both sides";
        }
    }
    if (ftruncate(m.fd, off_t(size)) != 0) return fail(errno_error("ftruncate", where, errno));

    auto base = map_for_role(m.fd, size, Role::lb, where, flags & MARLLB_FLAG_HUGEPAGES);
    if (!base) return fail(base.error());
    m.base = *base;
    m.size = size;

    if (opts.numa_node >= 0) {
        if (auto problem = bind_to_node(m.base, m.size, opts.numa_node); !problem.empty())
            return fail(make_error(Errc::invalid, "cannot bind %s to NUMA node %d: %s", m.path.c_str(),
                                   opts.numa_node, problem.c_str()));
    }
    // Allocate every page now: a full /dev/shm (or huge page pool) fails here with ENOSPC,
    // not with SIGBUS at the first touch of a page in the packet path.
    if (int rc = posix_fallocate(m.fd, 0, off_t(size)); rc != 0)
        return fail(errno_error("pre-allocate", m.path, rc));
    populate_page_tables(m.base, m.size, Role::lb);

    auto *h = m.header();
    const int pid = int(getpid());
    struct timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    h->abi_version = MARLLB_ABI_VERSION;
    h->header_size = sizeof(marllb_region_header_t);
    h->total_size = size;
    h->flags = flags;
    h->max_as = MARLLB_MAX_AS;
    h->ring_slots = MARLLB_RING_SLOTS;
    h->msg_out_size = sizeof(marllb_msg_out_t);
    h->msg_in_size = sizeof(marllb_msg_in_t);
    h->reservoir_data_size = sizeof(marllb_reservoir_data_t);
    h->ring_offset = MARLLB_RING_OFFSET;
    h->ring_size = sizeof(marllb_obs_ring_t);
    h->action_offset = MARLLB_ACTION_OFFSET;
    h->action_size = sizeof(marllb_action_section_t);
    h->reservoir_offset = (flags & MARLLB_FLAG_RAW_RESERVOIRS) ? MARLLB_RESERVOIR_OFFSET : 0;
    h->reservoir_size = (flags & MARLLB_FLAG_RAW_RESERVOIRS) ? MARLLB_RESERVOIR_SECTION_SIZE : 0;
    h->generation = 1;
    h->created_realtime_ns = std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
    h->creator_pid = pid;
    h->lb_pid = pid;
    // Magic last, with release: pairs with the acquire load in open_mapping. (The file has no
    // name yet, so no process can read it before publish_name; the release keeps the rule
    // "magic set means complete" true for a process that maps it later all the same.)
    store_release(&h->magic, MARLLB_MAGIC);

    if (int err = publish_name(*u, m.path, replace); err != 0) {
        struct stat there{};
        if (err == EEXIST && lstat(m.path.c_str(), &there) == 0 && !S_ISREG(there.st_mode))
            return fail(not_a_region_file(m.path, file_kind(there.st_mode)));
        if (err == EEXIST)
            return fail(make_error(
                Errc::exists,
                "region %s already exists: a restarting LB reopens it (marllb_lb_open/reopen); "
                "if no process uses it, remove it (marllb_unlink or rm %s)",
                m.path.c_str(), m.path.c_str()));
        return fail(errno_error("name", m.path, err));
    }
    if (!u->temp_path.empty() && !replace) ::unlink(u->temp_path.c_str()); // linked: drop the temp name
    return m;
}

// A creator SIGKILLed while it replaced a half-made region leaves its temporary name
// (.NAME.creating.PID.N, see open_unnamed). Removed when PID is no live process: a live one
// may still be creating (a pid reused since only delays the removal to a later open).
unsigned remove_dead_creators(std::string_view name, const Options &opts) noexcept {
    DIR *d = opendir(dir_of(opts));
    if (!d) return 0;
    std::string prefix(1, '.');
    prefix.append(name).append(".creating.");
    unsigned removed = 0;
    while (const dirent *e = readdir(d)) {
        const std::string_view entry(e->d_name);
        if (entry.size() <= prefix.size() || entry.substr(0, prefix.size()) != prefix) continue;
        const std::string rest(entry.substr(prefix.size())); // PID.N
        unsigned long pid = 0, n = 0;
        int used = 0;
        if (std::sscanf(rest.c_str(), "%lu.%lu%n", &pid, &n, &used) != 2 || std::size_t(used) != rest.size() ||
            pid == 0 || pid > 0x3fffffff)
            continue;
        if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue; // alive, or not ours to judge
        // A pid that is dead here may be alive in another pid namespace sharing this directory,
        // and a region's own name may have this form: what every live creator and LB holds is
        // the file's LB lock byte. Held: not ours to remove.
        const int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) continue;
        struct stat st{};
        const bool removable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !byte_is_locked(fd, kLbLockByte);
        ::close(fd);
        if (removable && unlinkat(dirfd(d), e->d_name, 0) == 0) ++removed;
    }
    closedir(d);
    return removed;
}

bool is_half_made(std::uint64_t file_size, const marllb_region_header_t *h) noexcept {
    // What an interrupted create of an earlier build left: the file empty, or full-size with
    // the magic (written last) still 0. A non-zero foreign magic is someone else's file.
    return file_size == 0 || (file_size >= sizeof(marllb_region_header_t) && h->magic == 0);
}

// Constructs its result in place (never assigns an Expected<Mapping>: tl::expected's move
// assignment does not compile for a move-only value under clang, which the fuzz build uses).
std::optional<Expected<Mapping>> replace_half_made(std::string_view name, const Options &opts) {
    std::optional<Expected<Mapping>> out;
    auto path = region_path(name, opts);
    if (!path) return out;
    const char *kind = nullptr;
    const int fd = open_region_file(*path, &kind);
    if (fd < 0) return out; // gone, or not a regular file: never replaced (open_mapping says so)
    struct Closer {
        int fd;
        ~Closer() { close(fd); } // after the rename: keeps the old inode locked until then
    } closer{fd};
    struct stat st{};
    marllb_region_header_t h{};
    auto half_made = [&] {
        if (fstat(fd, &st) != 0) return false;
        if (st.st_size >= off_t(sizeof h) && pread(fd, &h, sizeof h, 0) != ssize_t(sizeof h)) return false;
        return is_half_made(std::uint64_t(st.st_size), &h);
    };
    if (!half_made()) return out;
    // Whoever holds the old file's LB lock decides on it: a live creator of an older build,
    // or another LB replacing it. Then the name must still be that file (not replaced meanwhile).
    if (int rc = lock_byte(fd, kLbLockByte); rc != 0) {
        out.emplace(unexpected(make_error(Errc::not_ready, "region %s is being created; try again", path->c_str())));
        return out;
    }
    struct stat now{};
    if (::stat(path->c_str(), &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev || !half_made()) {
        out.emplace(unexpected(make_error(Errc::not_ready, "region %s changed while being replaced; try again",
                                          path->c_str())));
        return out;
    }
    const long long old_size = (long long)st.st_size;
    out.emplace(create_mapping(name, opts, /*replace=*/true));
    if (*out) {
        char note[512];
        std::snprintf(note, sizeof note,
                      "replaced %s: a creator died before finishing it (%lld bytes, magic 0)",
                      path->c_str(), old_size);
        auto &m = **out;
        m.notes = m.notes.empty() ? note : std::string(note) + "; " + m.notes;
    }
    return out;
}

Expected<Mapping> open_mapping(std::string_view name, const Options &opts, Role role) {
    auto path = region_path(name, opts);
    if (!path) return unexpected(path.error());
    if (role == Role::agent && opts.num_servers != 0)
        return unexpected(make_error(Errc::invalid,
                                     "num_servers is %u in an agent's options: the LB declares its server count; "
                                     "leave it 0 and read the LB's with marllb_agent_num_servers",
                                     opts.num_servers));
    Mapping m;
    m.path = *path;
    const char *kind = nullptr;
    m.fd = open_region_file(m.path, &kind);
    if (m.fd < 0) {
        if (kind) return unexpected(not_a_region_file(m.path, kind));
        if (errno == ENOENT)
            return unexpected(make_error(
                Errc::no_region,
                "no region %s: start the LB first (it creates the region), or check the name",
                m.path.c_str()));
        return unexpected(errno_error("open", m.path, errno));
    }

    // Validate from the file, before mapping anything: a short file cannot SIGBUS us.
    struct stat st{};
    if (fstat(m.fd, &st) != 0) return unexpected(errno_error("fstat", m.path, errno));
    marllb_region_header_t h{};
    if (st.st_size < off_t(sizeof h)) {
        if (st.st_size == 0 && byte_is_locked(m.fd, kLbLockByte))
            return unexpected(make_error(Errc::not_ready, "region %s is being created; try again",
                                              m.path.c_str()));
        if (st.st_size == 0)
            return unexpected(make_error(
                Errc::stale,
                "region %s was left empty by a creator that died before finishing it: start the LB "
                "(marllb_lb_open replaces it)",
                m.path.c_str()));
        return unexpected(make_error(
            Errc::bad_size,
            "region %s is %lld bytes, smaller than its %zu-byte header: truncated or not a marllb "
            "region; remove it (rm %s) and restart the LB",
            m.path.c_str(), (long long)st.st_size, sizeof h, m.path.c_str()));
    }
    if (pread(m.fd, &h, sizeof h, 0) != ssize_t(sizeof h))
        return unexpected(errno_error("read header of", m.path, errno));
    const bool lb_present = byte_is_locked(m.fd, kLbLockByte);

    if (h.magic == 0 && lb_present)
        return unexpected(make_error(Errc::not_ready, "region %s is being created; try again",
                                          m.path.c_str()));
    if (h.magic == 0)
        return unexpected(make_error(
            Errc::stale,
            "region %s was left half-made by a creator that died before finishing it (magic 0): "
            "start the LB (marllb_lb_open replaces it)",
            m.path.c_str()));
    if (h.magic != MARLLB_MAGIC)
        return unexpected(make_error(
            Errc::bad_magic,
            "%s is not a marllb region (magic 0x%016llx, expected 0x%016llx); check the name, "
            "or remove the file if it is yours",
            m.path.c_str(), (unsigned long long)h.magic, (unsigned long long)MARLLB_MAGIC));
    if (h.abi_version != MARLLB_ABI_VERSION)
        return unexpected(make_error(
            Errc::bad_version,
            "region %s speaks ABI version %u, this build speaks %u: build the LB and the agent from "
            "the same marllb-shm version, or remove the region and restart the LB",
            m.path.c_str(), h.abi_version, MARLLB_ABI_VERSION));
    const bool layout_ok =
        h.header_size == sizeof(marllb_region_header_t) && h.max_as == MARLLB_MAX_AS &&
        h.ring_slots == MARLLB_RING_SLOTS && h.msg_out_size == sizeof(marllb_msg_out_t) &&
        h.msg_in_size == sizeof(marllb_msg_in_t) &&
        h.reservoir_data_size == sizeof(marllb_reservoir_data_t) && h.ring_offset == MARLLB_RING_OFFSET &&
        h.ring_size == sizeof(marllb_obs_ring_t) && h.action_offset == MARLLB_ACTION_OFFSET &&
        h.action_size == sizeof(marllb_action_section_t) &&
        ((h.flags & MARLLB_FLAG_RAW_RESERVOIRS)
             ? (h.reservoir_offset == MARLLB_RESERVOIR_OFFSET &&
                h.reservoir_size == MARLLB_RESERVOIR_SECTION_SIZE)
             : (h.reservoir_offset == 0 && h.reservoir_size == 0)) &&
        (h.flags & ~std::uint32_t(MARLLB_FLAG_RAW_RESERVOIRS | MARLLB_FLAG_HUGEPAGES)) == 0;
    if (!layout_ok)
        return unexpected(make_error(
            Errc::bad_layout,
            "region %s has ABI version %u but a section table this build does not know (sizes "
            "%u/%u/%u, offsets %llu/%llu/%llu, flags 0x%x); build both sides from the same source",
            m.path.c_str(), h.abi_version, h.header_size, h.msg_out_size, h.msg_in_size,
            (unsigned long long)h.ring_offset, (unsigned long long)h.action_offset,
            (unsigned long long)h.reservoir_offset, h.flags));
    const std::uint64_t want = expected_region_size(h.flags); // huge pages round it up
    const bool size_ok = (h.flags & MARLLB_FLAG_HUGEPAGES) ? h.total_size >= want : h.total_size == want;
    if (std::uint64_t(st.st_size) != h.total_size || !size_ok)
        return unexpected(make_error(
            Errc::bad_size,
            "region %s is %lld bytes but its header says %llu (this build expects %llu): truncated "
            "or resized; remove it (rm %s) and restart the LB",
            m.path.c_str(), (long long)st.st_size, (unsigned long long)h.total_size,
            (unsigned long long)want, m.path.c_str()));

    if (role == Role::lb) {
        if (int rc = lock_byte(m.fd, kLbLockByte); rc == EAGAIN)
            return unexpected(make_error(
                Errc::busy,
                "region %s is held by a live LB (pid %d): one LB per region; stop it first",
                m.path.c_str(), h.lb_pid));
        else if (rc != 0)
            return unexpected(errno_error("lock", m.path, rc));
    } else {
        if (!lb_present && !(opts.flags & MARLLB_OPT_ALLOW_STALE))
            return unexpected(make_error(
                Errc::stale,
                "region %s is stale: its LB (pid %d, generation %llu) is gone; start the LB (it "
                "reopens the region), or remove the region (rm %s)",
                m.path.c_str(), h.lb_pid, (unsigned long long)h.generation, m.path.c_str()));
        if (int rc = lock_byte(m.fd, kAgentLockByte); rc == EAGAIN) {
            marllb_action_section_t a{};
            int agent_pid = -1;
            if (pread(m.fd, &a, sizeof a, MARLLB_ACTION_OFFSET) == ssize_t(sizeof a)) agent_pid = a.agent_pid;
            return unexpected(make_error(
                Errc::busy, "region %s already has a live agent (pid %d): one agent per region",
                m.path.c_str(), agent_pid));
        } else if (rc != 0) {
            return unexpected(errno_error("lock", m.path, rc));
        }
    }

    auto base = map_for_role(m.fd, std::size_t(h.total_size), role, m.path, h.flags & MARLLB_FLAG_HUGEPAGES);
    if (!base) return unexpected(base.error());
    m.base = *base;
    m.size = std::size_t(h.total_size);
    populate_page_tables(m.base, m.size, role);
    if (load_acquire(&m.header()->magic) != MARLLB_MAGIC) // pairs with the creator's release
        return unexpected(make_error(Errc::bad_magic, "region %s changed while attaching", m.path.c_str()));
    if (role == Role::agent) remember_agent_handle(m, h.flags & MARLLB_FLAG_HUGEPAGES);
    return m;
}

} // namespace detail

Options default_options() noexcept {
    Options o;
    marllb_options_init(&o);
    return o;
}

Expected<void> unlink_region(std::string_view name, const Options &opts) {
    auto path = detail::region_path(name, opts);
    if (!path) return unexpected(path.error());
    if (opts.num_servers != 0)
        return unexpected(detail::make_error(Errc::invalid,
                                             "num_servers is %u in unlink's options: it is an LB's open option; leave it 0",
                                             opts.num_servers));
    // Only a region file is removed by name: a FIFO, a link or a directory there is not ours.
    struct stat st{};
    if (lstat(path->c_str(), &st) == 0 && !S_ISREG(st.st_mode))
        return unexpected(detail::make_error(Errc::bad_magic,
                                             "%s is not a regular file, not a marllb region: not removed; check the name",
                                             path->c_str()));
    if (::unlink(path->c_str()) != 0) {
        if (errno == ENOENT)
            return unexpected(detail::make_error(Errc::no_region, "no region %s to remove", path->c_str()));
        return unexpected(detail::make_error(Errc::permission, "cannot remove %s: %s", path->c_str(),
                                                  std::strerror(errno)));
    }
    return {};
}

} // namespace marllb::shm

extern "C" void marllb_options_init(marllb_options_t *opts) {
    *opts = marllb_options_t{};
    opts->struct_size = sizeof(marllb_options_t);
    opts->numa_node = -1;
    opts->dir = nullptr;
}
