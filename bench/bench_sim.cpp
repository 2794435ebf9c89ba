// The simulated LB's own costs on its lcore: one packet through parse + flow table + state
// machine, one reservoir sample, and one publish (features over 64 servers x 2 metrics x 128
// samples, then the copy into the region). The publish target is <= 20 us at a 200 us cadence.
#include "host_context.hpp"
#include "lb.hpp"

#include <marllb/shm.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <unistd.h>

using namespace marllb;
using namespace marllb::sim;

namespace {

constexpr std::uint64_t kT0 = 10'000'000'000ull;

LbConfig config(unsigned servers) {
    LbConfig c;
    c.capacities.assign(servers, 1.0);
    c.policy = Policy::sed;
    c.buckets_log2 = 16; // every benchmarked flow keeps its entry (MARLLB's 2^10 would leave most untracked)
    return c;
}

// Opens `flows` flows (SYN + handshake ACK) so later ACKs hit live entries in state ON.
std::vector<std::array<std::uint8_t, kFrameLen>> open_flows(LoadBalancer &lb, unsigned flows) {
    std::vector<std::array<std::uint8_t, kFrameLen>> acks(flows);
    for (unsigned i = 0; i < flows; ++i) {
        const FlowKey k{0x0A000000u | i, kVip, 2000, kVipPort};
        std::uint8_t f[kFrameLen];
        build_frame(f, k, kTcpSyn, 0);
        lb.process(f, kFrameLen, kT0);
        build_frame(f, k, kTcpAck, 1);
        lb.process(f, kFrameLen, kT0);
        build_frame(acks[i].data(), k, kTcpAck, 2);
    }
    return acks;
}

// The frames in a fixed shuffled order (xorshift), so that neither the frames nor the buckets
// stream in address order: the order of BM_LbAckBurst and BM_TableTouchBurst alike.
template <class Frames> auto shuffled(Frames &frames) {
    std::vector<decltype(frames[0].data())> order(frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) order[i] = frames[i].data();
    std::uint64_t x = 88172645463325252ull;
    for (std::size_t i = order.size() - 1; i > 0; --i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        std::swap(order[i], order[x % (i + 1)]);
    }
    return order;
}

// The ns_per_packet counter of a burst benchmark: kIsRate | kInvert gives seconds per item;
// counting items in billions makes it ns.
void count_packets(benchmark::State &state, unsigned burst) {
    state.SetItemsProcessed(state.iterations() * burst);
    state.counters["ns_per_packet"] = benchmark::Counter(double(state.iterations() * burst) * 1e-9,
                                                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// A data-plane packet: an ACK of a live flow (parse, lookup, duration sample, forward).
void BM_LbAckPacket(benchmark::State &state) {
    LoadBalancer lb(config(64));
    auto acks = open_flows(lb, unsigned(state.range(0)));
    std::size_t i = 0;
    std::uint64_t t = kT0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(lb.process(acks[i].data(), kFrameLen, ++t));
        i = i + 1 == acks.size() ? 0 : i + 1;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LbAckPacket)->ArgName("flows")->Arg(1024)->Arg(65536);

// The same ACKs in bursts of 32 through process_burst, as the LB lcore receives them: headers
// parsed and buckets prefetched for the whole burst before any lookup. Flows are visited in a
// fixed shuffled order, so neither the frames nor the buckets stream in address order.
void BM_LbAckBurst(benchmark::State &state) {
    constexpr unsigned kBurst = 32;
    if (state.range(0) < kBurst) return state.SkipWithError("a burst needs at least 32 flows");
    LoadBalancer lb(config(64));
    auto acks = open_flows(lb, unsigned(state.range(0)));
    const auto order = shuffled(acks);
    std::uint16_t lens[kBurst];
    std::fill(std::begin(lens), std::end(lens), std::uint16_t(kFrameLen));
    int server[kBurst];
    std::size_t i = 0;
    std::uint64_t t = kT0;
    for (auto _ : state) {
        if (i + kBurst > order.size()) i = 0;
        lb.process_burst(order.data() + i, lens, kBurst, ++t, nullptr, server);
        benchmark::DoNotOptimize(server);
        i += kBurst;
    }
    count_packets(state, kBurst);
}
BENCHMARK(BM_LbAckBurst)->ArgName("flows")->Arg(1024)->Arg(65536);

// A new flow: SYN through SED over 64 servers, then its RST (FCT sample, eviction).
void BM_LbSynRst(benchmark::State &state) {
    LoadBalancer lb(config(64));
    std::uint8_t syn[kFrameLen], rst[kFrameLen];
    std::uint32_t i = 0;
    std::uint64_t t = kT0;
    for (auto _ : state) {
        const FlowKey k{0x0A000000u | (i++ & 0xffff), kVip, 3000, kVipPort};
        build_frame(syn, k, kTcpSyn, 0);
        build_frame(rst, k, kTcpRst | kTcpAck, 1);
        benchmark::DoNotOptimize(lb.process(syn, kFrameLen, ++t));
        benchmark::DoNotOptimize(lb.process(rst, kFrameLen, ++t));
    }
    state.SetItemsProcessed(2 * state.iterations());
}
BENCHMARK(BM_LbSynRst);

// One publish at `changed` new samples per reservoir since the last one: features of 64
// servers x 2 metrics (and, with raw:1, the raw reservoirs) copied into a region. The
// samples are added outside the timed part (they are the data path's cost, measured above).
void BM_ObservePublish(benchmark::State &state) {
    const unsigned changed = unsigned(state.range(0));
    const bool raw = state.range(1) != 0;
    const std::string name = "marllb_bench_sim_" + std::to_string(getpid());
    shm::Options o = shm::default_options();
    if (raw) o.flags |= MARLLB_OPT_RAW_RESERVOIRS;
    auto region = shm::LbRegion::create(name, o);
    if (!region) {
        state.SkipWithError(region.error().message.c_str());
        return;
    }
    LoadBalancer lb(config(64));
    // Fill every reservoir through the data path: 64 x 160 flows that open, send an ACK (a
    // duration sample) and close (an FCT sample), spread over the servers by SED; then
    // 64 x 64 flows that stay open and whose ACKs are the new samples below.
    std::uint64_t t = kT0;
    for (unsigned i = 0; i < 64 * 160; ++i) {
        const FlowKey k{0x0B000000u | i, kVip, 2000, kVipPort};
        std::uint8_t f[kFrameLen];
        for (std::uint8_t flags : {kTcpSyn, kTcpAck, kTcpAck, std::uint8_t(kTcpRst | kTcpAck)}) {
            build_frame(f, k, flags, 0);
            lb.process(f, kFrameLen, t += 1000);
        }
    }
    std::vector<std::array<std::uint8_t, kFrameLen>> acks = open_flows(lb, 64 * 64);
    shm::MsgOut msg{};
    std::size_t next = 0;
    for (auto _ : state) {
        state.PauseTiming();
        // `changed` new duration samples on every server (each ACK lands on its flow's server).
        for (unsigned c = 0; c < changed * 64 * 2 && changed; ++c) {
            lb.process(acks[next].data(), kFrameLen, t += 1000);
            next = next + 1 == acks.size() ? 0 : next + 1;
        }
        state.ResumeTiming();
        lb.observe(t, msg);
        region->publish(msg, raw ? &lb.raw_reservoirs() : nullptr);
    }
    (void)shm::unlink_region(name);
}
BENCHMARK(BM_ObservePublish)->ArgNames({"changed", "raw"})->Args({0, 0})->Args({4, 0})->Args({128, 0})->Args({128, 1})
    ->Unit(benchmark::kMicrosecond);

// The floor of a per-packet flow-table LB, the in-run baseline the gate compares
// BM_LbAckPacket with: per frame, load the addresses and ports from the frame, hash them, and
// read-modify-write one 64-byte bucket of a table of one bucket per live flow. No parsing, no
// state machine, no sampling: the memory traffic any flow-table LB pays at this table size.
// The next frame is chosen only once the bucket has been read, so misses do not overlap
// across packets: one packet at a time, as BM_LbAckPacket processes them.
// The touch benchmarks' frames (an ACK per flow) and the hash of a frame's addresses and ports.
std::vector<std::array<std::uint8_t, kFrameLen>> touch_frames(unsigned flows) {
    std::vector<std::array<std::uint8_t, kFrameLen>> frames(flows);
    for (unsigned i = 0; i < flows; ++i)
        build_frame(frames[i].data(), FlowKey{0x0A000000u | i, kVip, 2000, kVipPort}, kTcpAck, 2);
    return frames;
}

std::uint64_t touch_hash(const std::uint8_t *frame) {
    const std::uint8_t *f = frame + kEthLen;
    std::uint64_t a, b;
    std::memcpy(&a, f + 12, 8); // source and destination address
    std::memcpy(&b, f + kIpv4Len, 4); // ports
    const std::uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);
    return h ^ (h >> 29);
}

void BM_TableTouch(benchmark::State &state) {
    const auto frames = touch_frames(unsigned(state.range(0)));
    struct alignas(64) Bucket {
        std::uint64_t word[8];
    };
    std::vector<Bucket> table(std::bit_ceil(frames.size())); // a bucket per flow, a power of two
    const std::size_t mask = table.size() - 1;
    std::size_t i = 0;
    for (auto _ : state) {
        const std::uint64_t h = touch_hash(frames[i].data());
        Bucket &bk = table[h & mask];
        bk.word[0] += 1;
        bk.word[1] = h;
        benchmark::DoNotOptimize(bk);
        i += 1 + std::size_t(bk.word[0] >> 63); // a counter never reaches 2^63: always 1, after the load
        if (i >= frames.size()) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TableTouch)->ArgName("flows")->Arg(1024)->Arg(65536);

// The table touch as BM_LbAckBurst meets its table: the same frames in the same shuffled
// order, in bursts of 32, and a table of the LB's geometry (config(): 2^16 buckets of
// sizeof(FlowBucket), two cache lines each, whatever the number of flows). As process_burst
// does, every frame's two header lines are prefetched, then every key hashed and both lines of
// its bucket prefetched, then each bucket touched: a read-modify-write of its first line and a
// read of its second (the LB's lookup reads the four entries of both). No parsing, no state
// machine, no sample: the floor of an ACK in a burst, its misses overlapped as a burst allows.
// One packet at a time (BM_TableTouch) waits for each miss in turn instead.
void BM_TableTouchBurst(benchmark::State &state) {
    constexpr unsigned kBurst = 32;
    const auto flows = unsigned(state.range(0));
    if (flows < kBurst) return state.SkipWithError("a burst needs at least 32 flows");
    auto frames = touch_frames(flows);
    struct alignas(64) Bucket {
        std::uint64_t line[2][8];
    };
    static_assert(sizeof(Bucket) == sizeof(FlowBucket));
    std::vector<Bucket> table(std::size_t(1) << config(64).buckets_log2);
    const std::size_t mask = table.size() - 1;
    const auto order = shuffled(frames);
    std::size_t i = 0;
    std::uint64_t seen = 0;
    for (auto _ : state) {
        if (i + kBurst > order.size()) i = 0;
        const std::uint8_t *const *f = order.data() + i;
        std::uint64_t h[kBurst];
        for (unsigned k = 0; k < kBurst; ++k) {
            __builtin_prefetch(f[k]);
            __builtin_prefetch(f[k] + 47);
        }
        for (unsigned k = 0; k < kBurst; ++k) {
            h[k] = touch_hash(f[k]);
            __builtin_prefetch(&table[h[k] & mask].line[0]);
            __builtin_prefetch(&table[h[k] & mask].line[1]);
        }
        for (unsigned k = 0; k < kBurst; ++k) {
            Bucket &bk = table[h[k] & mask];
            bk.line[0][0] += 1;
            bk.line[0][1] = h[k];
            seen += bk.line[1][0];
            benchmark::DoNotOptimize(bk);
        }
        i += kBurst;
    }
    benchmark::DoNotOptimize(seen);
    count_packets(state, kBurst);
}
BENCHMARK(BM_TableTouchBurst)->ArgName("flows")->Arg(1024)->Arg(65536);

} // namespace

int main(int argc, char **argv) { return marllb::bench::unpinned_main(argc, argv); }
