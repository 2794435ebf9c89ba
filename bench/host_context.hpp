// The host metadata of every benchmark binary's JSON context (read by marllb-bench-to-csv):
// the same git_commit, cpu_model and kernel that every result row of the project carries
// (marllb/measure/host.hpp); Google Benchmark adds date, host_name and executable itself.
#pragma once

#include <marllb/measure/host.hpp>

#include <benchmark/benchmark.h>

#include <marllb/shm.h>

#include <x86intrin.h>

#include <algorithm>
#include <cstdint>
#include <sched.h>
#include <string>
#include <vector>

namespace marllb::bench {

// The CPUs this process may run on, as a list (0-1,4): where an unpinned benchmark ran.
inline std::string allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return "unknown";
    std::string out;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (!CPU_ISSET(c, &set) || (c > 0 && CPU_ISSET(c - 1, &set))) continue;
        int last = c;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set)) ++last;
        if (!out.empty()) out += ',';
        out += std::to_string(c);
        if (last > c) {
            out += '-';
            out += std::to_string(last);
        }
    }
    return out;
}

// ---- timing one short operation inside a loop (manual time), by the TSC
// tsc_begin: the loads before it are done first (lfence); tsc_end: the timed code is done
// before the read (rdtscp waits for earlier instructions; lfence keeps later ones after it).
inline std::uint64_t tsc_begin() noexcept {
    _mm_lfence();
    return __rdtsc();
}
inline std::uint64_t tsc_end() noexcept {
    unsigned aux;
    const std::uint64_t t = __rdtscp(&aux);
    _mm_lfence();
    return t;
}
// Nanoseconds per TSC tick, against CLOCK_MONOTONIC over ~20 ms (once per process).
inline double tsc_ns_per_tick() {
    static const double v = [] {
        const std::uint64_t n0 = marllb_now_mono_ns(), t0 = __rdtsc();
        while (marllb_now_mono_ns() - n0 < 20'000'000) {
        }
        const std::uint64_t n1 = marllb_now_mono_ns(), t1 = __rdtsc();
        return double(n1 - n0) / double(t1 - t0);
    }();
    return v;
}
// The median ticks of an empty tsc_begin/tsc_end pair (subtracted from each timed operation).
inline double tsc_pair_ticks() {
    static const double v = [] {
        std::vector<std::uint64_t> d(10001);
        for (auto &x : d) {
            const std::uint64_t a = tsc_begin();
            x = tsc_end() - a;
        }
        std::nth_element(d.begin(), d.begin() + 5000, d.end());
        return double(d[5000]);
    }();
    return v;
}

inline void add_host_context() {
    const measure::Host h = measure::host();
    benchmark::AddCustomContext("git_commit", h.git_commit);
    benchmark::AddCustomContext("cpu_model", h.cpu_model);
    benchmark::AddCustomContext("kernel", h.kernel);
}

// main() of a single-threaded, unpinned benchmark binary: host context, the CPUs it may run
// on, and Google Benchmark's own flags.
inline int unpinned_main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    add_host_context();
    benchmark::AddCustomContext("cpus", allowed_cpus());
    benchmark::AddCustomContext("cpu_relation", "unpinned");
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

} // namespace marllb::bench
