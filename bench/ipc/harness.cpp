#include "harness.hpp"

#include <marllb/measure/percentile.hpp>

#include <cerrno>
#include <csignal>
#include <algorithm>
#include <cstring>
#include <new>
#include <sched.h>
#include <sys/mman.h>

namespace marllb::bench::ipc {

int g_cpu_receiver = 0;
int g_cpu_sender = 1;

int pin_errno(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : errno;
}

std::string pin(int cpu) {
    const int e = pin_errno(cpu);
    return e ? "cannot pin to CPU " + std::to_string(cpu) + ": " + std::strerror(e) : std::string();
}

Control *make_control() {
    void *p = mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : new (p) Control;
}

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

Tally Tally::parity(std::uint32_t odd, std::uint64_t expected) const {
    Tally t;
    for (std::size_t i = 0; i < lat.size(); ++i) {
        if ((event[i] & 1u) != odd) continue;
        t.lat.push_back(lat[i]);
        t.event.push_back(event[i]);
        t.receiver_stalled.push_back(receiver_stalled[i]);
        t.torn += i < torn_at.size() && torn_at[i];
    }
    t.lost = expected - std::min<std::uint64_t>(expected, t.lat.size());
    return t;
}

void Tally::report(benchmark::State &state, const Control *c, const std::string &prefix) {
    auto counter = [&](const char *name) -> benchmark::Counter & { return state.counters[prefix + name]; };
    if (c && event.size() == lat.size()) {
        std::vector<std::uint64_t> calm;
        for (std::size_t i = 0; i < lat.size(); ++i)
            if (!receiver_stalled[i] && event[i] < kEvents && !c->sender_stalled[event[i]].load(std::memory_order_relaxed))
                calm.push_back(lat[i]);
        const measure::Summary q = measure::summarize(calm);
        counter("p50_calm_ns") = q.p50;
        counter("p99_calm_ns") = q.p99;
        counter("calm_pct") = lat.empty() ? 0.0 : 100.0 * double(calm.size()) / double(lat.size());
    }
    const measure::Summary s = measure::summarize(lat);
    counter("p50_ns") = s.p50;
    counter("p90_ns") = s.p90;
    counter("p99_ns") = s.p99;
    counter("p999_ns") = s.p999;
    counter("max_ns") = s.max;
    counter("torn") = double(torn);
    counter("lost") = double(lost);
    if (lost_calm >= 0) counter("lost_calm") = double(lost_calm);
}

std::string region_name(const char *tag) { return std::string("marllb_bench_") + tag + "_" + std::to_string(getpid()); }

} // namespace marllb::bench::ipc
