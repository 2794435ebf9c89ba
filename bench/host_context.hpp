// The host metadata of every benchmark binary's JSON context (read by scripts/bench_to_csv.py):
// the same git_commit, cpu_model and kernel that every result row of the project carries
// (marllb/measure/host.hpp); Google Benchmark adds date, host_name and executable itself.
#pragma once

#include <marllb/measure/host.hpp>

#include <benchmark/benchmark.h>

#include <sched.h>
#include <string>

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
