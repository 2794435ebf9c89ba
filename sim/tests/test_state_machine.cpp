// The clean model's per-flow state machine (LbModel::clean), one flag transition per test:
// SYN creates, the first pure ACK counts the flow on, later pure ACKs add flow-duration
// samples, RST|ACK adds an FCT sample, counts it off and evicts it. MARLLB's own model, quirks
// included, is proved in test_lb_models.cpp.
#include "lb.hpp"

#include <catch2/catch.hpp>

using namespace marllb::sim;

namespace {
constexpr std::uint64_t kMs = 1'000'000, kT0 = 1'000 * kMs;

struct Fixture {
    LoadBalancer lb{LbConfig{.capacities = {1, 1}, .policy = Policy::sed, .model = LbModel::clean, .buckets_log2 = 4}};
    FlowKey key{0x0A000001, kVip, 40000, kVipPort};
    int send(std::uint8_t flags, std::uint64_t t, FlowKey k) {
        std::uint8_t f[kFrameLen];
        build_frame(f, k, flags, 1);
        return lb.process(f, sizeof f, t);
    }
    int send(std::uint8_t flags, std::uint64_t t) { return send(flags, t, key); }
    std::uint32_t on_total() const { return lb.n_flow_on(0) + lb.n_flow_on(1); }
    std::uint64_t drops(Drop d) const { return lb.counters().drops[std::size_t(d)]; }
    std::uint64_t untracked() const { return lb.counters().untracked; }
};
} // namespace

TEST_CASE("SYN: creates the flow and picks a server, not yet counted on", "[state]") {
    Fixture x;
    const int s = x.send(kTcpSyn, kT0);
    CHECK(s >= 0);
    CHECK(x.lb.counters().flows == 1);
    CHECK(x.on_total() == 0);
}

TEST_CASE("non-SYN of an unknown flow: forwarded untracked by the hash, no entry", "[state]") {
    Fixture x;
    const int s = x.send(kTcpAck, kT0);
    CHECK(s >= 0);
    CHECK(x.send(kTcpRst | kTcpAck, kT0) == s);
    CHECK(x.untracked() == 2);
    CHECK(x.lb.counters().flows == 0);
}

TEST_CASE("first pure ACK: n_flow_on += 1 on the flow's server", "[state]") {
    Fixture x;
    const int s = x.send(kTcpSyn, kT0);
    CHECK(x.send(kTcpAck, kT0 + 1 * kMs) == s);
    CHECK(x.lb.n_flow_on(unsigned(s)) == 1);
    CHECK(x.lb.duration(unsigned(s)).count() == 0); // the handshake ACK is not a sample
}

TEST_CASE("PSH|ACK before the handshake ACK: forwarded, no state change", "[state]") {
    Fixture x;
    const int s = x.send(kTcpSyn, kT0);
    CHECK(x.send(kTcpPsh | kTcpAck, kT0 + 1 * kMs) == s);
    CHECK(x.on_total() == 0);
}

TEST_CASE("later ACKs: a flow-duration sample of now - SYN time each", "[state]") {
    Fixture x;
    const int s = x.send(kTcpSyn, kT0);
    x.send(kTcpAck, kT0 + 1 * kMs);
    x.send(kTcpPsh | kTcpAck, kT0 + 1 * kMs);
    x.send(kTcpAck, kT0 + 30 * kMs);
    const Reservoir &r = x.lb.duration(unsigned(s));
    REQUIRE(r.count() == 1); // the request (PSH|ACK) is not a sample
    CHECK(r.raw().values[0] == Approx(0.030));
    CHECK(r.raw().timestamps[0] == kT0 + 30 * kMs);
    CHECK(x.lb.n_flow_on(unsigned(s)) == 1);
}

TEST_CASE("RST|ACK: an FCT sample, the flow counted off and evicted", "[state]") {
    Fixture x;
    const int s = x.send(kTcpSyn, kT0);
    x.send(kTcpAck, kT0 + 1 * kMs);
    CHECK(x.send(kTcpRst | kTcpAck, kT0 + 50 * kMs) == s);
    const Reservoir &fct = x.lb.fct(unsigned(s));
    REQUIRE(fct.count() == 1);
    CHECK(fct.raw().values[0] == Approx(0.050));
    CHECK(x.on_total() == 0);
    CHECK(x.send(kTcpAck, kT0 + 51 * kMs) >= 0); // evicted: now untracked
    CHECK(x.untracked() == 1);
}

TEST_CASE("RST of a flow never counted on: FCT sample, n_flow_on does not underflow", "[state]") {
    Fixture x;
    const int s = x.send(kTcpSyn, kT0);
    x.send(kTcpRst | kTcpAck, kT0 + 5 * kMs);
    CHECK(x.lb.fct(unsigned(s)).count() == 1);
    CHECK(x.on_total() == 0);
}

TEST_CASE("a retransmitted SYN keeps the server its flow was given", "[state]") {
    Fixture x;
    const int s = x.send(kTcpSyn, kT0);
    // Load the other server's side so a fresh pick could differ, then retransmit.
    for (std::uint16_t p = 1; p <= 3; ++p) {
        FlowKey k = x.key;
        k.src_port = std::uint16_t(50000 + p);
        x.send(kTcpSyn, kT0, k);
        x.send(kTcpAck, kT0, k);
    }
    CHECK(x.send(kTcpSyn, kT0 + 1000 * kMs) == s);
    CHECK(x.lb.counters().flows == 4);
}

TEST_CASE("40 s idle: the flow expires, is counted off without a sample, its packets go untracked", "[state]") {
    Fixture x;
    const int s = x.send(kTcpSyn, kT0);
    x.send(kTcpAck, kT0 + 1 * kMs);
    REQUIRE(x.lb.n_flow_on(unsigned(s)) == 1);
    CHECK(x.send(kTcpAck, kT0 + 1 * kMs + 40'001 * kMs) >= 0);
    CHECK(x.untracked() == 1);
    CHECK(x.lb.n_flow_on(unsigned(s)) == 0);
    CHECK(x.lb.counters().flows_expired == 1);
    CHECK(x.lb.fct(unsigned(s)).count() == 0);
}

TEST_CASE("a bucket of four live flows: the fifth SYN is forwarded untracked, not dropped", "[state]") {
    // Two buckets (the smallest table); four flows with the same bucket fill it.
    LoadBalancer lb{LbConfig{.capacities = {1}, .model = LbModel::clean, .buckets_log2 = 1}};
    std::uint8_t f[kFrameLen];
    std::vector<FlowKey> same;
    for (std::uint16_t p = 0; same.size() < 5; ++p) {
        const FlowKey k{0x0A000001, kVip, std::uint16_t(1000 + p), kVipPort};
        if ((flow_hash(k) & 1) == 0) same.push_back(k);
    }
    for (unsigned i = 0; i < 5; ++i) {
        build_frame(f, same[i], kTcpSyn, 1);
        CHECK(lb.process(f, sizeof f, kT0) == 0);
    }
    CHECK(lb.counters().flows == 4);
    CHECK(lb.counters().untracked_syns == 1);
    // Once one flow ends, its entry is reused.
    build_frame(f, same[0], kTcpRst | kTcpAck, 1);
    lb.process(f, sizeof f, kT0 + kMs);
    build_frame(f, same[4], kTcpSyn, 1);
    CHECK(lb.process(f, sizeof f, kT0 + 2 * kMs) == 0);
    CHECK(lb.counters().flows == 5);
}

TEST_CASE("malformed and non-TCP frames are counted by reason, never forwarded", "[state][bad-input]") {
    Fixture x;
    std::uint8_t f[kFrameLen];
    build_frame(f, x.key, kTcpSyn, 1);
    f[kEthLen + 9] = 17; // UDP
    CHECK(x.lb.process(f, sizeof f, kT0) == -1);
    CHECK(x.lb.process(f, 10, kT0) == -1);
    CHECK(x.drops(Drop::not_tcp) == 1);
    CHECK(x.drops(Drop::truncated) == 1);
    CHECK(x.lb.counters().flows == 0);
}

// The LB keeps each reservoir's counters in an array of its own (ReservoirIntake): every
// server's FCT and duration samples must land in that server's two reservoirs and no other,
// before and after the first publish (the first sample of a reservoir takes another path).
TEST_CASE("each server's FCT and duration samples reach its own two reservoirs, before and after a publish", "[state]") {
    constexpr unsigned kServers = 3;
    LoadBalancer lb{LbConfig{.capacities = {1, 1, 1}, .policy = Policy::sed, .model = LbModel::clean, .buckets_log2 = 8}};
    std::array<unsigned, kServers> fct_n{}, dur_n{};
    std::array<double, kServers> fct_sum{}, dur_sum{};
    std::uint64_t t = kT0;
    auto send = [&](std::uint8_t flags, std::uint64_t at, FlowKey k) {
        std::uint8_t f[kFrameLen];
        build_frame(f, k, flags, 1);
        return lb.process(f, sizeof f, at);
    };
    // Flow i sends i % 4 duration samples, then its RST|ACK: counts differ per server and metric.
    auto flows = [&](std::uint32_t first, std::uint32_t n) {
        for (std::uint32_t i = first; i < first + n; ++i) {
            const FlowKey k{0x0A000000u | i, kVip, 40000, kVipPort};
            const std::uint64_t syn = t;
            const int s = send(kTcpSyn, t, k);
            REQUIRE(s >= 0);
            send(kTcpAck, t += kMs, k);
            for (unsigned a = 0; a < i % 4; ++a) {
                send(kTcpAck, t += kMs, k);
                ++dur_n[s], dur_sum[s] += double(t - syn) * 1e-9;
            }
            send(kTcpRst | kTcpAck, t += kMs, k);
            ++fct_n[s], fct_sum[s] += double(t - syn) * 1e-9;
        }
    };
    auto check = [&] {
        marllb::shm::MsgOut m{};
        lb.observe(t, m);
        for (unsigned s = 0; s < kServers; ++s) {
            CAPTURE(s);
            REQUIRE(lb.fct(s).seen() == fct_n[s]);
            REQUIRE(lb.duration(s).seen() == dur_n[s]);
            REQUIRE(dur_n[s] < Reservoir::kCap); // no slot replaced: the mean is of every sample
            CHECK(m.as_stats[s].reservoir_features[MARLLB_FCT_MEAN] == Approx(fct_sum[s] / fct_n[s]).epsilon(1e-5));
            CHECK(m.as_stats[s].reservoir_features[MARLLB_DURATION_MEAN] == Approx(dur_sum[s] / dur_n[s]).epsilon(1e-5));
        }
    };
    flows(0, 30);
    check();
    flows(30, 30);
    check();
}
