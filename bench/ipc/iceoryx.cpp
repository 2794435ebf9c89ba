// iceoryx's publisher and subscriber (BM_ObsOneWay/iceoryx): built only when iceoryx_posh is
// found at configure time (bench/CMakeLists.txt).
#include "harness.hpp"

#include "iceoryx_posh/popo/publisher.hpp"
#include "iceoryx_posh/popo/subscriber.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <new>
#include <cstdio>
#include <pwd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace marllb::bench::ipc {

// iceoryx needs its daemon: the bench starts iox-roudi with a small config and stops it by
// its pid. When it cannot start, the benchmark is skipped with the reason. RouDi leaves its
// shared memory (/dev/shm/iceoryx_mgmt, ~64 MB, and /dev/shm/<user>) behind when it stops:
// stop_roudi removes them, and the config file, when this run made them.
namespace {
pid_t g_roudi = -1;
std::string g_roudi_problem, g_roudi_cfg;
std::vector<std::string> g_roudi_shm; // names RouDi's segments take that did not exist before it started

std::vector<std::string> roudi_shm_names() {
    std::vector<std::string> names{"iceoryx_mgmt"};
    if (const passwd *pw = getpwuid(geteuid()); pw && pw->pw_name) names.emplace_back(pw->pw_name);
    return names;
}
} // namespace

void start_roudi() {
    const std::string cfg = "/tmp/marllb_bench_roudi_" + std::to_string(getpid()) + ".toml";
    g_roudi_cfg = cfg;
    g_roudi_shm.clear();
    for (const std::string &n : roudi_shm_names())
        if (::access(("/dev/shm/" + n).c_str(), F_OK) != 0) g_roudi_shm.push_back(n);
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
        std::remove(cfg.c_str());
    }
}

std::string roudi_status() { return g_roudi > 0 ? "roudi started" : g_roudi_problem; }

void stop_roudi() {
    if (g_roudi <= 0) return;
    kill(g_roudi, SIGTERM);
    int status;
    waitpid(g_roudi, &status, 0);
    g_roudi = -1;
    for (const std::string &n : g_roudi_shm) shm_unlink(("/" + n).c_str()); // only what this run's RouDi made
    std::remove(g_roudi_cfg.c_str());
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
    // Each peer's runtime made a UNIX socket and its lock file in /tmp, named after it; the
    // sender is killed and neither runs its destructors (_exit), so they are removed here.
    for (const auto &[role, pid] : {std::pair{"sub", receiver}, std::pair{"pub", sender}})
        for (const char *suffix : {"", ".lock"})
            (void)unlink((std::string("/tmp/marllb-bench-") + role + "-" + std::to_string(pid) + suffix).c_str());
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

} // namespace marllb::bench::ipc
