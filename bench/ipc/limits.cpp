// The physical limits and the floor at the cadence, beside which every transport is read:
//   BM_CacheLineOneWay           one atomic bounced between the CPUs, RTT / 2
//   BM_Memcpy/bytes:2848         copying the payload once
//   BM_CopyFloorOneWay           2,848 bytes written by the sender, a one-line flag, the
//                                receiver copies them out
#include "harness.hpp"

#include <cstring>
#include <new>
#include <sys/mman.h>

namespace marllb::bench::ipc {

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
// transport must pay, and the in-run baseline its ratios are compared with (FloorBox,
// harness.hpp). The gate pairs it with marllb-shm event by event (BM_ObsPaired, marllb.cpp).
void BM_CopyFloorOneWay(benchmark::State &state) {
    Control *c = make_control();
    void *mem = mmap(nullptr, sizeof(FloorBox), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!c || mem == MAP_FAILED) return state.SkipWithError("mmap failed");
    auto *box = new (mem) FloorBox;
    std::uint64_t seen = 0;
    one_way(
        state, c, [&](MsgOut &m) { box->send(m); },
        [&](MsgOut &m) {
            for (bool done = false; !box->try_receive(m, seen); __builtin_ia32_pause()) {
                g_receiver_watch.tick();
                if (done) return false;
                done = c->sender_done.load(std::memory_order_acquire);
            }
            return true;
        },
        Receiver::polls);
    munmap(mem, sizeof(FloorBox));
    munmap(c, sizeof *c);
}

} // namespace marllb::bench::ipc
