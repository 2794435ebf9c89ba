// bench_ipc's harness: two processes pinned to --cpu-a (receiver, this process) and --cpu-b
// (sender, a forked child), a shared control block, and the one-way measurement every
// transport uses. Every latency is one event's delay from its *scheduled* time (the sender
// waits for t_k = t_0 + k * period, stamps t_k into the message, then sends), so a slow
// receiver is charged for the queue it causes (no coordinated omission).
//
// Stalls: on a shared VM either process may stop running for microseconds to milliseconds
// (another task, an interrupt, the host taking the vCPU), and such events decide a
// repetition's tail at random. Each process watches its own clock: the receiver in its poll
// loop (a gap of kStallNs between two reads: it was not running), the sender around its send
// (it returned kStallNs or more after the scheduled time); in the full loop the agent watches
// its poll loop as the receiver does. An event is *calm* when neither
// process stalled between its scheduled time and its receipt. Every event still counts in the
// percentiles; the calm events' own percentiles (p50_calm_ns, p99_calm_ns) and their share
// (calm_pct) are reported beside them: the tail the code causes, apart from the host's.
// A receiver that blocks in a system call (pipe, socket, mq, mutex, iceoryx) has no poll loop
// to watch: only its sender's stalls are seen, and a send slower than kStallNs counts as one;
// its calm counters are not comparable with a polling receiver's.
#pragma once

#include <marllb/measure/payload.hpp>
#include <marllb/shm.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace marllb::bench::ipc {

using shm::MsgIn;
using shm::MsgOut;

extern int g_cpu_receiver; // --cpu-a, set by main before any benchmark runs
extern int g_cpu_sender;   // --cpu-b
constexpr std::uint64_t kPeriodNs = 200'000; // one event every 200 us: the seed's 5,000 updates/s
constexpr std::int64_t kEvents = 2000;      // per repetition
constexpr std::uint64_t kStallNs = 4'000;    // a gap in a process's own clock this long: it stalled

inline std::uint64_t now_ns() { return marllb_now_mono_ns(); }

// Pins the calling process to one CPU: 0 when done, else the errno of sched_setaffinity.
int pin_errno(int cpu);
// The same: "" when done, else why not.
std::string pin(int cpu);

inline void spin_until(std::uint64_t t) {
    while (now_ns() < t) __builtin_ia32_pause();
}

// The payload: the fast self-checking observation of event k (sequence id k + 1); the
// scheduled time rides in active_as_bitmap, which the check leaves free (a benchmark
// convention, not the protocol's meaning).
inline void fill(MsgOut &m, std::uint64_t k) { measure::fill_fast(m, k + 1); }
inline bool intact(const MsgOut &m) { return measure::intact_fast(m); }

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
    // Set by the child for event k when it stalled on it (its send returned kStallNs or more
    // after t_k; in the full loop, a gap in the agent's poll loop after t_k); read by the
    // parent only after the child has been stopped and reaped (Tally::report).
    std::atomic<std::uint8_t> sender_stalled[kEvents]{};
    // The full loop's agent, after each write of an action: the time the write returned, then
    // (release) the sequence it answered. The LB reads them (acquire, then the time) when it
    // gives an event up: a loss whose action was written, and polled for afterwards, is the
    // code's; one the agent never answered in time (it was not running) is the host's.
    alignas(64) std::atomic<std::uint64_t> agent_answered_ns{0};
    std::atomic<std::uint64_t> agent_answered_seq{0};
};

// The floor's shared buffer (limits.cpp, BM_CopyFloorOneWay and BM_ObsPaired): the sender
// writes the bytes with plain stores and raises a one-line flag (release); the receiver polls
// the flag (acquire) and copies the bytes out. The next write comes a period later: the copy is
// complete long before then (the lost/torn counters would show otherwise).
struct FloorBox {
    alignas(64) std::atomic<std::uint64_t> seq{0};
    alignas(64) MsgOut msg;
    void send(const MsgOut &m) {
        std::memcpy(&msg, &m, sizeof m);                     // plain stores: no reader is copying now
        seq.store(m.sequence_id, std::memory_order_release); // pairs with the acquire in try_receive
    }
    // The newest message if it is not `seen`'s: copied into m, seen updated.
    bool try_receive(MsgOut &m, std::uint64_t &seen) {
        const std::uint64_t s = seq.load(std::memory_order_acquire);
        if (s == seen) return false;
        std::memcpy(&m, &msg, sizeof m);
        seen = s;
        return true;
    }
};

// The receiver's stall watch: tick() in every iteration of its poll loop. resumed_ns is the
// time it resumed after the last gap of kStallNs or more between two ticks.
struct StallWatch {
    std::uint64_t last_ns = 0, resumed_ns = 0;
    void reset() { last_ns = resumed_ns = 0; }
    void tick() {
        const std::uint64_t t = now_ns();
        if (last_ns != 0 && t - last_ns >= kStallNs) resumed_ns = t;
        last_ns = t;
    }
};
inline StallWatch g_receiver_watch; // the receiver's (this process's) poll loops tick it

Control *make_control(); // null when mmap failed; release with munmap(c, sizeof *c)

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

// Why the child could not be pinned (after fork_pinned returned -1).
std::string cannot_pin_child(const Control *c, int cpu);
void stop_child(pid_t pid); // SIGKILL and reap, by pid
std::uint64_t wait_start(Control *c); // the sender waits for t_0

// Latencies and the self-check counts of one benchmark, reported as its counters. With the
// events' indices and the receiver's stall flags (one_way), also the calm events' percentiles.
struct Tally {
    std::vector<std::uint64_t> lat;
    std::vector<std::uint32_t> event;          // one_way: which event each latency is
    std::vector<std::uint8_t> receiver_stalled; // one_way: the receiver stalled after t_k
    std::uint64_t torn = 0, lost = 0;
    std::int64_t lost_calm = -1; // the full loop's: lost though answered and polled for (-1: not counted)
    // Counters named prefix + name (p50_ns, ..., torn, lost).
    void report(benchmark::State &state, const Control *c = nullptr, const std::string &prefix = "");
    // The events of one parity (one_way with Pairing::alternate): their latencies, stall flags
    // and torn count; lost = expected - received.
    Tally parity(std::uint32_t odd, std::uint64_t expected) const;
    std::vector<std::uint8_t> torn_at; // one_way: the message of each latency failed its check
};

// one_way's events on one transport, or alternating between two by event (even k on the first,
// odd k on the second), each transport's counters apart: the second's plain, the first's
// prefixed "floor_" (BM_ObsPaired: the floor in the same repetition as marllb-shm).
enum class Pairing { none, alternate };

// One-way harness over any transport: `send(msg)` in the child, `recv(msg) -> bool` in the
// parent (false: gave up, counted lost). A receiver that busy-polls (receiver_polls) ticks
// g_receiver_watch in its loop; the harness ticks it also just before and just after each
// recv, so that a stall between two events or inside a read is seen too.
enum class Receiver { blocks, polls };
template <class Send, class Recv>
void one_way(benchmark::State &state, Control *c, Send &&send, Recv &&recv, Receiver how = Receiver::blocks,
             Pairing pairing = Pairing::none) {
    const bool watch = how == Receiver::polls;
    if (std::string e = pin(g_cpu_receiver); !e.empty()) return state.SkipWithError(e.c_str());
    const pid_t child = fork_sender(c, [&] {
        MsgOut m{};
        const std::uint64_t t0 = wait_start(c);
        for (std::int64_t k = 0; k < kEvents; ++k) {
            const std::uint64_t t = t0 + std::uint64_t(k) * kPeriodNs;
            // Prepared before its time: only sending is timed. Alternating, each transport
            // numbers its own events 1, 2, 3, ... (a fresh region's sequence ids).
            fill(m, std::uint64_t(pairing == Pairing::alternate ? k / 2 : k));
            spin_until(t);
            m.active_as_bitmap = t;
            send(m);
            if (now_ns() - t >= kStallNs) c->sender_stalled[k].store(1, std::memory_order_relaxed);
        }
        c->sender_done.store(true, std::memory_order_release);
    });
    if (child < 0) return state.SkipWithError(cannot_pin_child(c, g_cpu_sender).c_str());
    Tally tally;
    MsgOut m{};
    const std::uint64_t t0 = now_ns() + 2'000'000;
    g_receiver_watch.reset();
    c->start_ns.store(t0, std::memory_order_release);
    for (auto _ : state) { // one iteration per event; after the sender's last, the rest end at once
        if (watch) g_receiver_watch.tick();
        if (!recv(m)) {
            state.SetIterationTime(1e-9);
            continue;
        }
        const std::uint64_t t = m.active_as_bitmap, lat = now_ns() - t;
        if (watch) g_receiver_watch.tick();
        const bool torn = !intact(m);
        tally.torn += torn;
        tally.torn_at.push_back(torn);
        tally.lat.push_back(lat);
        tally.event.push_back(std::uint32_t((t - t0) / kPeriodNs));
        tally.receiver_stalled.push_back(g_receiver_watch.resumed_ns > t);
        state.SetIterationTime(double(lat) * 1e-9);
    }
    stop_child(child); // reaped: every flag the sender set is visible from here on
    tally.lost = std::uint64_t(kEvents) - tally.lat.size(); // each event is received at most once
    if (pairing == Pairing::none) return tally.report(state, c);
    tally.parity(0, kEvents / 2).report(state, c, "floor_");
    tally.parity(1, kEvents / 2).report(state, c);
}

// A name unique to this process for a region or queue: marllb_bench_<tag>_<pid>.
std::string region_name(const char *tag);

// The benchmarks main registers (each with manual time and kEvents iterations).
void BM_CopyFloorOneWay(benchmark::State &state);     // limits.cpp
void BM_ObsOneWay_marllb_shm(benchmark::State &state); // marllb.cpp
void BM_ActionOneWay_marllb_shm(benchmark::State &state);
void BM_FullLoop_marllb_shm(benchmark::State &state);
void BM_ObsPaired_marllb_shm(benchmark::State &state);
void BM_ObsPairedPrefetched_marllb_shm(benchmark::State &state);
void BM_ObsOneWay_pipe(benchmark::State &state);       // kernel.cpp
void BM_ObsOneWay_unix_socket(benchmark::State &state);
void BM_ObsOneWay_posix_mq(benchmark::State &state);
void BM_ObsOneWay_mutex_shm(benchmark::State &state);
#ifdef MARLLB_BENCH_ICEORYX
// iceoryx.cpp: RouDi, the daemon iceoryx needs, started and stopped by its pid.
void start_roudi();
void stop_roudi();
std::string roudi_status(); // "roudi started" or why not
void BM_ObsOneWay_iceoryx(benchmark::State &state);
#endif

} // namespace marllb::bench::ipc
