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
// Files: ipc/harness (the two processes, the one-way measurement), ipc/limits, ipc/marllb,
// ipc/kernel (pipe, socket, mq, mutex), ipc/iceoryx; this file: options, placement, main.
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
#include "ipc/harness.hpp"

#include <marllb/measure/command_line.hpp>

#include <CLI/CLI.hpp>
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <hwloc.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sched.h>
#include <string>
#include <utility>
#include <vector>

using namespace marllb::bench::ipc;

namespace {

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
    marllb::measure::add_version_flag(app, "bench_ipc");
    app.allow_extras(); // Google Benchmark's own flags, passed on
    app.footer("Google Benchmark's flags pass through in their --name=value form, e.g.\n"
               "  --benchmark_filter=REGEX --benchmark_repetitions=N --benchmark_out=FILE --benchmark_out_format=json\n"
               "(the latency benchmarks run a fixed 2,000 events each; --benchmark_list_tests lists them).");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp &) {
        fmt::print("{}\nGoogle Benchmark's flags:\n", app.help());
        std::fflush(stdout); // PrintDefaultHelp writes with printf
        benchmark::PrintDefaultHelp();
        return 0;
    } catch (const CLI::ParseError &e) {
        return marllb::measure::exit_code(app, e); // --version: 0; a bad option: exit 2, one line
    }
    for (const auto &[cpu, option] : {std::pair{g_cpu_receiver, "--cpu-a"}, std::pair{g_cpu_sender, "--cpu-b"}})
        if (std::string why = unusable_cpu(cpu, option); !why.empty()) {
            fmt::print(stderr, "bench_ipc: {}\n", why);
            return 2;
        }
    if (g_cpu_receiver == g_cpu_sender) {
        fmt::print(stderr, "bench_ipc: --cpu-a and --cpu-b are both {}: two busy-polling processes need two CPUs\n", g_cpu_receiver);
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
    reg("BM_ObsPaired/marllb_shm", BM_ObsPaired_marllb_shm);
    reg("BM_ObsPairedPrefetched/marllb_shm", BM_ObsPairedPrefetched_marllb_shm);
    reg("BM_ObsOneWay/pipe", BM_ObsOneWay_pipe);
    reg("BM_ObsOneWay/unix_socket", BM_ObsOneWay_unix_socket);
    reg("BM_ObsOneWay/posix_mq", BM_ObsOneWay_posix_mq);
    reg("BM_ObsOneWay/mutex_shm", BM_ObsOneWay_mutex_shm);
#ifdef MARLLB_BENCH_ICEORYX
    start_roudi();
    benchmark::AddCustomContext("iceoryx", roudi_status());
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
