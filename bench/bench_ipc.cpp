// Cross-process latency: marllb-shm against the physical limit and against peers, in one run,
// with the two processes pinned to two CPUs (the sender on --cpu-b, the receiver on --cpu-a).
// A CPU this process may not run on is refused before anything runs, and a pin that fails
// during a benchmark skips it with the reason: a row never claims CPUs it did not run on.
//
// Every latency is one event's delay measured from its *scheduled* time (the sender waits for
// t_k = t_0 + k * period, stamps t_k into the message, then sends), so a slow receiver is
// charged for the queue it causes (no coordinated omission). The benchmark's time is the mean;
// counters p50/p90/p99/p999/max (ns) give the distribution (percentiles by linear
// interpolation, marllb/measure/percentile.hpp), `torn` counts received payloads that fail
// their self-check (marllb/measure/payload.hpp; must be 0), `lost` counts events never
// received (must be 0).
//
//   BM_CacheLineOneWay           physical limit: one atomic bounced between the CPUs, RTT / 2
//   BM_Memcpy/bytes:2848         physical limit: copying the payload once
//   BM_CopyFloorOneWay           the floor at the cadence: 2,848 bytes written by the sender,
//                                a one-line flag, the receiver copies them out
//   BM_ObsOneWay/marllb_shm      LB publishes, agent busy-polls published_seq and reads it
//   BM_ObsOneWay/<peer>          the same 2,848 bytes through pipe, unix_socket, posix_mq,
//                                mutex_shm (process-shared mutex + condvar), iceoryx
//   BM_ActionOneWay/marllb_shm   agent writes an action, LB polls and applies it
//   BM_FullLoop/marllb_shm       LB publishes, agent answers, LB applies: round trip
#include "host_context.hpp"

#include <marllb/measure/payload.hpp>
#include <marllb/measure/percentile.hpp>
#include <marllb/shm.hpp>

#include <CLI/CLI.hpp>
#include <benchmark/benchmark.h>
#include <hwloc.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <mqueue.h>
#include <pthread.h>
#include <sched.h>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#ifdef MARLLB_BENCH_ICEORYX
#include "iceoryx_posh/popo/publisher.hpp"
#include "iceoryx_posh/popo/subscriber.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#endif

using namespace marllb::shm;

namespace {

int g_cpu_receiver = 0;
int g_cpu_sender = 1;
constexpr std::uint64_t kPeriodNs = 200'000; // one event every 200 us: the seed's 5,000 updates/s
constexpr std::int64_t kEvents = 2000;      // per repetition

std::uint64_t now_ns() { return marllb_now_mono_ns(); }

// Pins the calling process to one CPU: 0 when done, else the errno of sched_setaffinity.
int pin_errno(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : errno;
}
// The same: "" when done, else why not.
std::string pin(int cpu) {
    const int e = pin_errno(cpu);
    return e ? "cannot pin to CPU " + std::to_string(cpu) + ": " + std::strerror(e) : std::string();
}

void spin_until(std::uint64_t t) {
    while (now_ns() < t) __builtin_ia32_pause();
}

// The payload: the fast self-checking observation of event k (sequence id k + 1); the
// scheduled time rides in active_as_bitmap, which the check leaves free (a benchmark
// convention, not the protocol's meaning).
void fill(MsgOut &m, std::uint64_t k) { marllb::measure::fill_fast(m, k + 1); }
bool intact(const MsgOut &m) { return marllb::measure::intact_fast(m); }

// Shared control block for the two processes (anonymous shared mapping, made before fork).
struct Control {
    std::atomic<std::uint64_t> start_ns{0}; // the sender's t_0, set by the receiver when ready
    std::atomic<bool> sender_done{false};     // the sender sent its last event
    std::atomic<std::uint64_t> ping{0};
    std::atomic<std::uint64_t> pong{0};
    // The forked child's pin, written once by the child (release) and read by the parent
    // (acquire) before either starts measuring: 1 pinned, -errno failed (the child then exits).
    std::atomic<int> child_pinned{0};
    alignas(64) std::atomic<std::uint64_t> line{0}; // the bounced cache line
};

Control *make_control() {
    void *p = mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : new (p) Control;
}

// Runs `fn` in a child process pinned to `cpu`; the child exits when done. Returns its pid
// once it is pinned, or -1 (child reaped) when it could not be pinned or fork failed.
template <class F> pid_t fork_pinned(Control *c, int cpu, F &&fn) {
    c->child_pinned.store(0, std::memory_order_relaxed);
    const pid_t pid = fork();
    if (pid == 0) {
        const int e = pin_errno(cpu);
        c->child_pinned.store(e ? -e : 1, std::memory_order_release);
        if (e) _exit(3);
        fn();
        _exit(0);
    }
    if (pid < 0) return -1;
    int v, status;
    while ((v = c->child_pinned.load(std::memory_order_acquire)) == 0)
        if (waitpid(pid, &status, WNOHANG) == pid) return -1; // died before saying
    if (v > 0) return pid;
    waitpid(pid, &status, 0);
    return -1;
}
template <class F> pid_t fork_sender(Control *c, F &&sender) { return fork_pinned(c, g_cpu_sender, sender); }

std::string cannot_pin_child(const Control *c, int cpu) {
    const int v = c->child_pinned.load(std::memory_order_relaxed); // the child is gone: nothing races
    return "cannot pin the child process to CPU " + std::to_string(cpu) + ": " +
           (v < 0 ? std::strerror(-v) : "it exited before it was pinned") + " (see --help: --cpu-a, --cpu-b)";
}

void stop_child(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
}

std::uint64_t wait_start(Control *c) {
    std::uint64_t t0;
    while ((t0 = c->start_ns.load(std::memory_order_acquire)) == 0) __builtin_ia32_pause();
    return t0;
}

struct Tally {
    std::vector<std::uint64_t> lat;
    std::uint64_t torn = 0, lost = 0;
    void report(benchmark::State &state) {
        const marllb::measure::Summary s = marllb::measure::summarize(lat);
        state.counters["p50_ns"] = s.p50;
        state.counters["p90_ns"] = s.p90;
        state.counters["p99_ns"] = s.p99;
        state.counters["p999_ns"] = s.p999;
        state.counters["max_ns"] = s.max;
        state.counters["torn"] = double(torn);
        state.counters["lost"] = double(lost);
    }
};

// One-way harness over any transport: `send(msg)` in the child, `recv(msg) -> bool` in the
// parent (false: gave up, counted lost).
template <class Send, class Recv> void one_way(benchmark::State &state, Control *c, Send &&send, Recv &&recv) {
    if (std::string e = pin(g_cpu_receiver); !e.empty()) return state.SkipWithError(e.c_str());
    const pid_t child = fork_sender(c, [&] {
        MsgOut m{};
        const std::uint64_t t0 = wait_start(c);
        for (std::int64_t k = 0; k < kEvents; ++k) {
            const std::uint64_t t = t0 + std::uint64_t(k) * kPeriodNs;
            fill(m, std::uint64_t(k)); // prepared before its time: only sending is timed
            spin_until(t);
            m.active_as_bitmap = t;
            send(m);
        }
        c->sender_done.store(true, std::memory_order_release);
    });
    if (child < 0) return state.SkipWithError(cannot_pin_child(c, g_cpu_sender).c_str());
    Tally tally;
    MsgOut m{};
    c->start_ns.store(now_ns() + 2'000'000, std::memory_order_release);
    for (auto _ : state) { // one iteration per event; after the sender's last, the rest end at once
        if (!recv(m)) {
            state.SetIterationTime(1e-9);
            continue;
        }
        const std::uint64_t lat = now_ns() - m.active_as_bitmap;
        if (!intact(m)) ++tally.torn;
        tally.lat.push_back(lat);
        state.SetIterationTime(double(lat) * 1e-9);
    }
    stop_child(child);
    tally.lost = std::uint64_t(kEvents) - tally.lat.size(); // each event is received at most once
    tally.report(state);
}

// ---- the physical limits ------------------------------------------------------------------

void BM_CacheLineOneWay(benchmark::State &state) {
    Control *c = make_control();
    if (!c) return state.SkipWithError("mmap failed");
    if (std::string e = pin(g_cpu_receiver); !e.empty()) return state.SkipWithError(e.c_str());
    const pid_t child = fork_sender(c, [&] {
        for (std::uint64_t v = 1;; v += 2) { // answers each odd value with the next even one
            while (c->line.load(std::memory_order_acquire) != v) __builtin_ia32_pause();
            c->line.store(v + 1, std::memory_order_release);
        }
    });
    if (child < 0) return state.SkipWithError(cannot_pin_child(c, g_cpu_sender).c_str());
    Tally tally;
    std::uint64_t v = 1;
    for (auto _ : state) {
        const std::uint64_t t = now_ns();
        c->line.store(v, std::memory_order_release);
        while (c->line.load(std::memory_order_acquire) != v + 1) __builtin_ia32_pause();
        const std::uint64_t one_way = (now_ns() - t) / 2;
        tally.lat.push_back(one_way);
        state.SetIterationTime(double(one_way) * 1e-9);
        v += 2;
    }
    stop_child(child);
    tally.report(state);
    munmap(c, sizeof *c);
}
BENCHMARK(BM_CacheLineOneWay)->UseManualTime()->Iterations(20000);

void BM_Memcpy(benchmark::State &state) {
    const auto bytes = std::size_t(state.range(0));
    alignas(64) static unsigned char src[4096], dst[4096];
    std::memset(src, 1, sizeof src);
    for (auto _ : state) {
        benchmark::DoNotOptimize(src);
        std::memcpy(dst, src, bytes);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_Memcpy)->ArgName("bytes")->Arg(sizeof(MsgOut));

// The floor for moving an observation between the CPUs at the cadence: the sender writes the
// same 2,848 bytes into a shared buffer with plain stores and raises a one-line flag (release);
// the receiver busy-polls the flag (acquire) and copies the bytes out. Same schedule, same cold
// caches, same bytes as BM_ObsOneWay/marllb_shm, without the protocol: what any correct
// transport must pay, and the in-run baseline its ratios are gated on.
struct FloorBox {
    alignas(64) std::atomic<std::uint64_t> seq{0};
    alignas(64) MsgOut msg;
};

void BM_CopyFloorOneWay(benchmark::State &state) {
    Control *c = make_control();
    void *mem = mmap(nullptr, sizeof(FloorBox), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!c || mem == MAP_FAILED) return state.SkipWithError("mmap failed");
    auto *box = new (mem) FloorBox;
    std::uint64_t seen = 0;
    one_way(
        state, c,
        [&](MsgOut &m) {
            std::memcpy(&box->msg, &m, sizeof m);       // plain stores: no reader is copying now
            box->seq.store(m.sequence_id, std::memory_order_release); // pairs with the acquire below
        },
        [&](MsgOut &m) {
            std::uint64_t s;
            for (bool done = false; (s = box->seq.load(std::memory_order_acquire)) == seen; __builtin_ia32_pause()) {
                if (done) return false;
                done = c->sender_done.load(std::memory_order_acquire);
            }
            // The sender writes the next message only 200 us later: the copy is complete
            // long before then (the lost/torn counters would show otherwise).
            std::memcpy(&m, &box->msg, sizeof m);
            seen = s;
            return true;
        });
    munmap(mem, sizeof(FloorBox));
    munmap(c, sizeof *c);
}

// ---- marllb-shm ---------------------------------------------------------------------------

// An action over 64 servers of equal weight (its alias table is the same for any weight).
MsgIn uniform_action() {
    MsgIn a{};
    a.num_servers = 64;
    for (auto &w : a.weights) w = 1.0f;
    marllb_alias_build(a.weights, 64, a.alias_table);
    return a;
}

std::string region_name(const char *tag) { return std::string("marllb_bench_") + tag + "_" + std::to_string(getpid()); }

// One benchmark's region and control block, released on every exit path (skips included).
struct BenchRegion {
    Control *c = make_control();
    std::string name;
    Expected<LbRegion> lb;
    explicit BenchRegion(const char *tag) : name(region_name(tag)), lb(fresh(name)) {}
    static Expected<LbRegion> fresh(const std::string &n) {
        (void)unlink_region(n); // left by an interrupted run
        return LbRegion::create(n);
    }
    ~BenchRegion() {
        (void)unlink_region(name);
        if (c) munmap(c, sizeof *c);
    }
    [[nodiscard]] bool ok() const { return c && lb; }
};

void BM_ObsOneWay_marllb_shm(benchmark::State &state) {
    BenchRegion r("obs");
    if (!r.ok()) return state.SkipWithError("cannot create the region");
    Control *c = r.c;
    auto &lb = r.lb;
    auto agent = AgentRegion::attach(r.name);
    if (!agent) return state.SkipWithError(agent.error().message.c_str());
    // In-order reads: every event is received unless the ring wrapped (then counted lost).
    one_way(
        state, c, [&](MsgOut &m) { lb->publish(m); },
        [&](MsgOut &m) {
            Observation obs;
            for (;;) {
                for (bool done = false; agent->published_sequence() == agent->last_returned(); __builtin_ia32_pause()) {
                    if (done) return false; // checked once more after the sender finished
                    done = c->sender_done.load(std::memory_order_acquire);
                }
                if (agent->read_next(obs) == Errc::ok) break;
            }
            m = obs.msg;
            return true;
        });
}

void BM_ActionOneWay_marllb_shm(benchmark::State &state) {
    BenchRegion r("act");
    if (!r.ok()) return state.SkipWithError("cannot create the region");
    Control *c = r.c;
    const std::string &name = r.name;
    auto &lbx = r.lb;
    MsgOut obs{};
    for (std::int64_t k = 0; k <= kEvents; ++k) lbx->publish(obs); // actions may answer 1..kEvents
    if (std::string e = pin(g_cpu_receiver); !e.empty()) return state.SkipWithError(e.c_str());
    const pid_t child = fork_sender(c, [&] {
        auto agent = AgentRegion::attach(name);
        if (!agent) _exit(2);
        MsgIn a;
        const std::uint64_t t0 = wait_start(c);
        for (std::int64_t k = 0; k < kEvents; ++k) {
            const std::uint64_t t = t0 + std::uint64_t(k) * kPeriodNs;
            marllb::measure::fill_action(a, std::uint64_t(k) + 1, MARLLB_MAX_AS); // before its time
            spin_until(t);
            a.timestamp_us = t; // scheduled time (benchmark convention)
            (void)agent->write_action(a, 1);
        }
        c->sender_done.store(true, std::memory_order_release);
    });
    if (child < 0) return state.SkipWithError(cannot_pin_child(c, g_cpu_sender).c_str());
    while (__atomic_load_n(&lbx->mapping().action()->agent_pid, __ATOMIC_RELAXED) == 0) __builtin_ia32_pause();
    Tally tally;
    c->start_ns.store(now_ns() + 2'000'000, std::memory_order_release);
    for (auto _ : state) {
        // An action overwritten before the LB polled it is lost (counted below); after the
        // last event the remaining iterations end at once.
        bool applied = false;
        for (bool done = false; !applied; __builtin_ia32_pause()) {
            done = c->sender_done.load(std::memory_order_acquire); // before the poll: no last write missed
            applied = lbx->poll_action().status == MARLLB_POLL_APPLIED;
            if (done) break;
        }
        if (!applied) {
            state.SetIterationTime(1e-9);
            continue;
        }
        const MsgIn *a = lbx->action();
        const std::uint64_t lat = now_ns() - a->timestamp_us;
        if (!marllb::measure::action_intact_but_timestamp(*a)) ++tally.torn; // after the latency is taken
        tally.lat.push_back(lat);
        state.SetIterationTime(double(lat) * 1e-9);
    }
    stop_child(child);
    tally.lost = std::uint64_t(kEvents) - tally.lat.size(); // each action is applied at most once
    tally.report(state);
}

void BM_FullLoop_marllb_shm(benchmark::State &state) {
    BenchRegion r("loop");
    if (!r.ok()) return state.SkipWithError("cannot create the region");
    const std::string &name = r.name;
    auto &lbx = r.lb;
    if (std::string e = pin(g_cpu_receiver); !e.empty()) return state.SkipWithError(e.c_str());
    const pid_t child = fork_sender(r.c, [&] {
        auto agent = AgentRegion::attach(name);
        if (!agent) _exit(2);
        MsgIn a = uniform_action();
        Observation obs;
        std::uint64_t seen = 0;
        for (;;) { // answer every observation at once
            while (agent->published_sequence() == seen) __builtin_ia32_pause();
            if (agent->read_newest(obs) != Errc::ok) continue; // again: nothing newer than seen
            seen = obs.msg.sequence_id;
            a.sequence_id = seen;
            (void)agent->write_action(a, obs.generation);
        }
    });
    if (child < 0) return state.SkipWithError(cannot_pin_child(r.c, g_cpu_sender).c_str());
    while (__atomic_load_n(&lbx->mapping().action()->agent_pid, __ATOMIC_RELAXED) == 0) __builtin_ia32_pause();
    Tally tally;
    MsgOut m{};
    const std::uint64_t t0 = now_ns() + 2'000'000;
    std::int64_t k = 0;
    for (auto _ : state) {
        const std::uint64_t t = t0 + std::uint64_t(k) * kPeriodNs;
        fill(m, std::uint64_t(k++));
        spin_until(t);
        m.active_as_bitmap = t;
        const std::uint64_t seq = lbx->publish(m);
        const std::uint64_t give_up = t + 100'000'000;
        bool applied = false;
        while (!applied && now_ns() < give_up) {
            applied = lbx->poll_action().status == MARLLB_POLL_APPLIED && lbx->action()->sequence_id == seq;
            if (!applied) __builtin_ia32_pause();
        }
        const std::uint64_t lat = now_ns() - t;
        if (!applied) ++tally.lost;
        tally.lat.push_back(lat);
        state.SetIterationTime(double(lat) * 1e-9);
    }
    stop_child(child);
    tally.report(state);
}

// ---- peers ------------------------------------------------------------------------------------

bool read_full(int fd, void *buf, std::size_t n) {
    auto *p = static_cast<char *>(buf);
    while (n) {
        const ssize_t r = read(fd, p, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return false;
        }
        p += r;
        n -= std::size_t(r);
    }
    return true;
}
void write_full(int fd, const void *buf, std::size_t n) {
    auto *p = static_cast<const char *>(buf);
    while (n) {
        const ssize_t r = write(fd, p, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return;
        }
        p += r;
        n -= std::size_t(r);
    }
}

void BM_ObsOneWay_pipe(benchmark::State &state) {
    Control *c = make_control();
    int fds[2];
    if (!c || pipe(fds) != 0) return state.SkipWithError("pipe failed");
    one_way(state, c, [&](MsgOut &m) { write_full(fds[1], &m, sizeof m); },
            [&](MsgOut &m) { return read_full(fds[0], &m, sizeof m); });
    close(fds[0]);
    close(fds[1]);
    munmap(c, sizeof *c);
}

void BM_ObsOneWay_unix_socket(benchmark::State &state) {
    Control *c = make_control();
    int sv[2];
    if (!c || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) return state.SkipWithError("socketpair failed");
    one_way(state, c, [&](MsgOut &m) { (void)!send(sv[1], &m, sizeof m, 0); },
            [&](MsgOut &m) { return recv(sv[0], &m, sizeof m, 0) == ssize_t(sizeof m); });
    close(sv[0]);
    close(sv[1]);
    munmap(c, sizeof *c);
}

void BM_ObsOneWay_posix_mq(benchmark::State &state) {
    Control *c = make_control();
    const std::string name = "/" + region_name("mq");
    mq_unlink(name.c_str());
    struct mq_attr attr{};
    attr.mq_maxmsg = 10;
    attr.mq_msgsize = sizeof(MsgOut);
    const mqd_t q = mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (!c || q == mqd_t(-1)) return state.SkipWithError((std::string("mq_open: ") + std::strerror(errno)).c_str());
    one_way(state, c, [&](MsgOut &m) { (void)mq_send(q, reinterpret_cast<const char *>(&m), sizeof m, 0); },
            [&](MsgOut &m) { return mq_receive(q, reinterpret_cast<char *>(&m), sizeof m, nullptr) == ssize_t(sizeof m); });
    mq_close(q);
    mq_unlink(name.c_str());
    munmap(c, sizeof *c);
}

// The locking design: one buffer guarded by a process-shared mutex, a condvar for "new".
struct LockedBox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    std::uint64_t seq;
    MsgOut msg;
};

void BM_ObsOneWay_mutex_shm(benchmark::State &state) {
    Control *c = make_control();
    void *p = mmap(nullptr, sizeof(LockedBox), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!c || p == MAP_FAILED) return state.SkipWithError("mmap failed");
    auto *box = static_cast<LockedBox *>(p);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&box->mu, &ma);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_cond_init(&box->cv, &ca);
    box->seq = 0;
    std::uint64_t seen = 0;
    one_way(
        state, c,
        [&](MsgOut &m) {
            pthread_mutex_lock(&box->mu);
            box->msg = m;
            ++box->seq;
            pthread_cond_signal(&box->cv);
            pthread_mutex_unlock(&box->mu);
        },
        [&](MsgOut &m) {
            // One buffer: a message overwritten before it was read is lost (counted), so the
            // last waits end on a timeout instead of a signal that never comes.
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += 1;
            pthread_mutex_lock(&box->mu);
            int rc = 0;
            while (box->seq == seen && rc == 0 && !c->sender_done.load(std::memory_order_acquire))
                rc = pthread_cond_timedwait(&box->cv, &box->mu, &deadline);
            const bool got = box->seq != seen;
            seen = box->seq;
            m = box->msg;
            pthread_mutex_unlock(&box->mu);
            return got;
        });
    munmap(p, sizeof(LockedBox));
    munmap(c, sizeof *c);
}

#ifdef MARLLB_BENCH_ICEORYX
// iceoryx needs its daemon: the bench starts iox-roudi with a small config and stops it by
// its pid. When it cannot start, the benchmark is skipped with the reason.
pid_t g_roudi = -1;
std::string g_roudi_problem;

void start_roudi() {
    const std::string cfg = "/tmp/marllb_bench_roudi_" + std::to_string(getpid()) + ".toml";
    // Mempools in increasing chunk size (RouDi refuses other orders); 4 KiB chunks hold a
    // msg_out_t. About 66 MB of /dev/shm instead of the default config's ~200 MB.
    std::ofstream(cfg) << "[general]\nversion = 1\n\n[[segment]]\n\n[[segment.mempool]]\nsize = 128\ncount = 256\n\n"
                          "[[segment.mempool]]\nsize = 4096\ncount = 64\n";
    g_roudi = fork();
    if (g_roudi == 0) { // quiet: the benchmark's own output may be JSON on stdout
        const int devnull = ::open("/dev/null", O_WRONLY);
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
        execlp("iox-roudi", "iox-roudi", "-c", cfg.c_str(), "-l", "error", static_cast<char *>(nullptr));
        _exit(127);
    }
    usleep(500'000); // RouDi is ready after ~0.3 s
    int status;
    if (g_roudi < 0 || waitpid(g_roudi, &status, WNOHANG) != 0) {
        g_roudi_problem = "iox-roudi did not start (installed? another RouDi running?)";
        g_roudi = -1;
    }
}

void stop_roudi() {
    if (g_roudi <= 0) return;
    kill(g_roudi, SIGTERM);
    int status;
    waitpid(g_roudi, &status, 0);
    g_roudi = -1;
}

// Both iceoryx ends run in child processes, so this process never registers with RouDi
// (RouDi terminates its registered processes when it stops). The receiver child records each
// latency in shared memory; this process then reports them as the iterations' times.
struct IceoryxResults {
    std::atomic<std::uint64_t> received{0};
    std::uint64_t torn = 0;
    std::uint64_t lat[kEvents];
};

void BM_ObsOneWay_iceoryx(benchmark::State &state) {
    if (g_roudi <= 0) return state.SkipWithError(("iceoryx unavailable: " + g_roudi_problem).c_str());
    Control *c = make_control();
    void *mem = mmap(nullptr, sizeof(IceoryxResults), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!c || mem == MAP_FAILED) return state.SkipWithError("mmap failed");
    auto *res = new (mem) IceoryxResults;
    static int round = 0;
    const std::string instance = "obs" + std::to_string(round++);
    const iox::capro::ServiceDescription service{"marllb", "bench", iox::capro::IdString_t(iox::cxx::TruncateToCapacity, instance.c_str())};
    auto runtime = [](const char *role) {
        const std::string name = std::string("marllb-bench-") + role + "-" + std::to_string(getpid());
        iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
    };
    const pid_t receiver = fork_pinned(c, g_cpu_receiver, [&] {
        runtime("sub");
        iox::popo::SubscriberOptions opts;
        opts.queueCapacity = 16;
        iox::popo::Subscriber<MsgOut> sub(service, opts);
        usleep(100'000); // let the subscription connect
        c->start_ns.store(now_ns() + 2'000'000, std::memory_order_release);
        for (std::int64_t k = 0; k < kEvents; ++k) {
            MsgOut m{};
            bool got = false, last_chance = false;
            while (!got && !last_chance) { // busy-poll, as the marllb-shm reader does
                last_chance = c->sender_done.load(std::memory_order_acquire);
                sub.take().and_then([&](auto &sample) {
                    m = *sample;
                    got = true;
                });
            }
            if (!got) break;
            res->lat[res->received.load(std::memory_order_relaxed)] = now_ns() - m.active_as_bitmap;
            if (!intact(m)) ++res->torn;
            res->received.fetch_add(1, std::memory_order_release);
        }
    });
    if (receiver < 0) return state.SkipWithError(cannot_pin_child(c, g_cpu_receiver).c_str());
    const pid_t sender = fork_sender(c, [&] {
        runtime("pub");
        iox::popo::Publisher<MsgOut> pub(service);
        const std::uint64_t t0 = wait_start(c);
        MsgOut m{};
        for (std::int64_t k = 0; k < kEvents; ++k) {
            const std::uint64_t t = t0 + std::uint64_t(k) * kPeriodNs;
            fill(m, std::uint64_t(k));
            spin_until(t);
            m.active_as_bitmap = t;
            pub.loan().and_then([&](auto &sample) {
                *sample = m;
                sample.publish();
            });
        }
        c->sender_done.store(true, std::memory_order_release);
        usleep(200'000);
    });
    if (sender < 0) {
        stop_child(receiver);
        return state.SkipWithError(cannot_pin_child(c, g_cpu_sender).c_str());
    }
    int status;
    waitpid(receiver, &status, 0);
    stop_child(sender);
    Tally tally;
    const std::uint64_t n = res->received.load(std::memory_order_acquire);
    tally.torn = res->torn;
    tally.lost = std::uint64_t(kEvents) - n; // each event is received at most once
    std::uint64_t i = 0;
    for (auto _ : state) {
        const std::uint64_t lat = i < n ? res->lat[i] : 0;
        if (i < n) tally.lat.push_back(lat);
        state.SetIterationTime(i < n ? double(lat) * 1e-9 : 1e-9);
        ++i;
    }
    tally.report(state);
    munmap(mem, sizeof(IceoryxResults));
    munmap(c, sizeof *c);
}
#endif

// ---- placement context ----------------------------------------------------------------------

std::string relation(int a, int b) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) return "unknown";
    hwloc_obj_t pa = hwloc_get_pu_obj_by_os_index(topo, unsigned(a));
    hwloc_obj_t pb = hwloc_get_pu_obj_by_os_index(topo, unsigned(b));
    std::string r = "unknown";
    if (pa && pb) {
        auto shared = [&](hwloc_obj_type_t t) {
            hwloc_obj_t x = hwloc_get_ancestor_obj_by_type(topo, t, pa);
            return x && x == hwloc_get_ancestor_obj_by_type(topo, t, pb);
        };
        if (a == b) r = "same_pu";
        else if (shared(HWLOC_OBJ_CORE)) r = "smt_siblings";
        else if (shared(HWLOC_OBJ_PACKAGE) && hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE) <= 1) r = "same_package";
        else if (shared(HWLOC_OBJ_PACKAGE)) r = "same_package";
        else r = "cross_package";
    }
    hwloc_topology_destroy(topo);
    return r;
}

// Why `cpu` (given as `option`) cannot be used, or "" when this process may run there.
std::string unusable_cpu(int cpu, const char *option) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return std::string("sched_getaffinity: ") + std::strerror(errno);
    if (cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed)) return {};
    return std::string(option) + " " + std::to_string(cpu) + ": this process may not run on CPU " + std::to_string(cpu) +
           " (allowed: " + marllb::bench::allowed_cpus() + "); pick two of those";
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"bench_ipc: one-way latency of a 2,848-byte observation between two pinned processes: "
                 "marllb-shm against the cache-line limit and against pipes, Unix sockets, POSIX message "
                 "queues, a mutex-guarded shared buffer and iceoryx"};
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_option("--cpu-a", g_cpu_receiver, "CPU of the receiver (this process)")->capture_default_str()->check(CLI::Range(0, CPU_SETSIZE - 1));
    app.add_option("--cpu-b", g_cpu_sender, "CPU of the sender (a forked child)")->capture_default_str()->check(CLI::Range(0, CPU_SETSIZE - 1));
    app.allow_extras(); // Google Benchmark's own flags, passed on
    app.footer("Google Benchmark's flags pass through in their --name=value form, e.g.\n"
               "  --benchmark_filter=REGEX --benchmark_repetitions=N --benchmark_out=FILE --benchmark_out_format=json\n"
               "(the latency benchmarks run a fixed 2,000 events each; --benchmark_list_tests lists them).");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp &) {
        std::printf("%s\nGoogle Benchmark's flags:\n", app.help().c_str());
        benchmark::PrintDefaultHelp();
        return 0;
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    }
    for (const auto &[cpu, option] : {std::pair{g_cpu_receiver, "--cpu-a"}, std::pair{g_cpu_sender, "--cpu-b"}})
        if (std::string why = unusable_cpu(cpu, option); !why.empty()) {
            std::fprintf(stderr, "bench_ipc: %s\n", why.c_str());
            return 2;
        }
    if (g_cpu_receiver == g_cpu_sender) {
        std::fprintf(stderr, "bench_ipc: --cpu-a and --cpu-b are both %d: two busy-polling processes need two CPUs\n", g_cpu_receiver);
        return 2;
    }
    std::vector<std::string> rest_args = app.remaining();
    std::vector<char *> rest{argv[0]};
    for (auto &a : rest_args) rest.push_back(a.data());
    int rest_argc = int(rest.size());
    benchmark::Initialize(&rest_argc, rest.data());
    if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;
    marllb::bench::add_host_context();
    benchmark::AddCustomContext("cpus", std::to_string(g_cpu_receiver) + "," + std::to_string(g_cpu_sender));
    benchmark::AddCustomContext("cpu_relation", relation(g_cpu_receiver, g_cpu_sender));
    benchmark::AddCustomContext("period_ns", std::to_string(kPeriodNs));

    auto reg = [](const char *name, void (*fn)(benchmark::State &)) {
        benchmark::RegisterBenchmark(name, fn)->UseManualTime()->Iterations(kEvents);
    };
    reg("BM_CopyFloorOneWay", BM_CopyFloorOneWay);
    reg("BM_ObsOneWay/marllb_shm", BM_ObsOneWay_marllb_shm);
    reg("BM_ObsOneWay/pipe", BM_ObsOneWay_pipe);
    reg("BM_ObsOneWay/unix_socket", BM_ObsOneWay_unix_socket);
    reg("BM_ObsOneWay/posix_mq", BM_ObsOneWay_posix_mq);
    reg("BM_ObsOneWay/mutex_shm", BM_ObsOneWay_mutex_shm);
#ifdef MARLLB_BENCH_ICEORYX
    start_roudi();
    benchmark::AddCustomContext("iceoryx", g_roudi > 0 ? "roudi started" : g_roudi_problem);
    reg("BM_ObsOneWay/iceoryx", BM_ObsOneWay_iceoryx);
#else
    benchmark::AddCustomContext("iceoryx", "not built (iceoryx_posh not found at configure time)");
#endif
    reg("BM_ActionOneWay/marllb_shm", BM_ActionOneWay_marllb_shm);
    reg("BM_FullLoop/marllb_shm", BM_FullLoop_marllb_shm);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
#ifdef MARLLB_BENCH_ICEORYX
    stop_roudi();
#endif
    return 0;
}
