// MARLLB's plugin as the marllb model reproduces it, one behaviour per test, driven by frames
// (docs/sim.md, "LB models", has the table with MARLLB's file and line for each). Where the
// clean model differs, the same test shows the clean side too.
#include "lb.hpp"
#include "lockstep.hpp"

#include <catch2/catch.hpp>

#include <unordered_map>

using namespace marllb::sim;

namespace {
constexpr std::uint64_t kMs = 1'000'000, kS = 1'000 * kMs, kT0 = 1'000 * kS;

struct Lb {
    LoadBalancer lb;
    explicit Lb(LbModel m, std::vector<double> caps = {1, 1}, Policy p = Policy::sed, unsigned buckets_log2 = 0)
        : lb(LbConfig{.capacities = std::move(caps), .policy = p, .model = m, .buckets_log2 = buckets_log2}) {}
    int send(std::uint8_t flags, std::uint64_t t, const FlowKey &k) {
        std::uint8_t f[kFrameLen];
        build_frame(f, k, flags, 1);
        return lb.process(f, sizeof f, t);
    }
    const LbCounters &c() const { return lb.counters(); }
};

FlowKey key(std::uint32_t i, std::uint16_t port = 40000) { return FlowKey{0x0A000000u | i, kVip, port, kVipPort}; }
std::uint32_t h32(const FlowKey &k) { return std::uint32_t(flow_hash(k)); }
unsigned nonzero_slots(const Reservoir &r) {
    unsigned n = 0;
    for (unsigned i = 0; i < Reservoir::kCap; ++i) n += r.raw().timestamps[i] != 0;
    return n;
}
} // namespace

TEST_CASE("1. marllb: the request (PSH|ACK) adds no flow-duration sample, later pure ACKs do", "[lbmodel]") {
    for (LbModel m : {LbModel::marllb, LbModel::clean}) {
        Lb x(m);
        const FlowKey k = key(1);
        const int s = x.send(kTcpSyn, kT0, k);
        x.send(kTcpAck, kT0 + 1 * kMs, k);
        x.send(kTcpPsh | kTcpAck, kT0 + 1 * kMs, k);
        CHECK(x.lb.duration(unsigned(s)).seen() == 0);
        x.send(kTcpAck, kT0 + 30 * kMs, k);
        CHECK(x.lb.duration(unsigned(s)).seen() == 1);
        CHECK(x.lb.n_flow_on(unsigned(s)) == 1);
    }
}

TEST_CASE("1. the published flow-duration reservoirs hold no sample taken at the request", "[lbmodel]") {
    // 20 s of Poisson traffic at 60 % load through the marllb model: every written slot (its
    // timestamp is set) holds at least one ACK interval (10 ms) since the SYN.
    const std::vector<double> caps{1, 1, 1, 1, 2, 2, 2};
    WorldConfig wc;
    wc.capacities = caps;
    wc.rate = 0.6 * 10 / wc.mean_work_s;
    wc.seed = 3;
    World world(wc);
    LoadBalancer lb(LbConfig{.capacities = caps, .policy = Policy::sed, .seed = 4});
    unsigned written = 0, at_request = 0;
    LockstepRun run{world, lb, 200'000'000, [&](std::uint64_t now) {
        marllb_msg_out_t m{};
        lb.observe(now, m);
    }};
    run.run(0, 20 * kS);
    for (unsigned s = 0; s < caps.size(); ++s)
        for (unsigned i = 0; i < Reservoir::kCap; ++i) {
            const auto &raw = lb.duration(s).raw();
            if (raw.timestamps[i] == 0) continue;
            ++written;
            at_request += raw.values[i] < 0.0099f;
        }
    INFO("written " << written << ", at the request " << at_request);
    CHECK(written > 500);
    CHECK(at_request == 0);
}

TEST_CASE("2. marllb: only RST|ACK ends a flow, FIN|ACK and a bare RST leave it on (clean: both end it)", "[lbmodel]") {
    Lb x(LbModel::marllb);
    const FlowKey k = key(2);
    const int s = x.send(kTcpSyn, kT0, k);
    x.send(kTcpAck, kT0 + kMs, k);
    x.send(kTcpFin | kTcpAck, kT0 + 2 * kMs, k);
    x.send(kTcpRst, kT0 + 3 * kMs, k);
    CHECK(x.lb.n_flow_on(unsigned(s)) == 1);
    CHECK(x.c().bare_rsts == 1);
    CHECK(nonzero_slots(x.lb.fct(unsigned(s))) == 0);
    x.send(kTcpRst | kTcpAck, kT0 + 4 * kMs, k);
    CHECK(x.lb.n_flow_on(unsigned(s)) == 0);
    CHECK(nonzero_slots(x.lb.fct(unsigned(s))) == 1);

    for (std::uint8_t end : {std::uint8_t(kTcpFin | kTcpAck), kTcpRst}) {
        Lb y(LbModel::clean);
        const int t = y.send(kTcpSyn, kT0, k);
        y.send(kTcpAck, kT0 + kMs, k);
        y.send(end, kT0 + 2 * kMs, k);
        CHECK(y.lb.n_flow_on(unsigned(t)) == 0);
        CHECK(y.lb.fct(unsigned(t)).count() == 1);
    }
}

TEST_CASE("3. marllb: a non-SYN of an unknown flow is forwarded untracked by the Maglev table", "[lbmodel]") {
    Lb x(LbModel::marllb, {1, 1, 1, 1, 2, 2, 2});
    for (std::uint32_t i = 0; i < 50; ++i) {
        const FlowKey k = key(i);
        CHECK(x.send(kTcpAck, kT0, k) == int(x.lb.maglev_entry(h32(k) & 63)));
    }
    CHECK(x.c().untracked == 50);
    CHECK(x.c().flows == 0);
    CHECK(x.c().dropped() == 0);
}

TEST_CASE("4. marllb: 2^10 buckets, a SYN finding its bucket full is forwarded untracked by the hash", "[lbmodel]") {
    Lb x(LbModel::marllb, {1, 1, 1, 1, 2, 2, 2});
    CHECK(x.lb.table_capacity() == 4096);
    CHECK(Lb(LbModel::clean).lb.table_capacity() == 4u << 16);
    std::vector<FlowKey> same;
    for (std::uint32_t i = 0; same.size() < 5; ++i)
        if ((h32(key(i)) & 1023) == (h32(key(0)) & 1023)) same.push_back(key(i));
    for (unsigned i = 0; i < 4; ++i) CHECK(x.send(kTcpSyn, kT0, same[i]) >= 0);
    CHECK(x.send(kTcpSyn, kT0, same[4]) == int(x.lb.maglev_entry(h32(same[4]) & 63)));
    CHECK(x.c().untracked_syns == 1);
    CHECK(x.c().flows == 4);
}

TEST_CASE("5. marllb: an expired entry is wrapped up with a guessed FCT when its slot is reused, "
          "n_flow_on not decremented (clean: counted off, no sample)", "[lbmodel]") {
    Lb x(LbModel::marllb);
    const FlowKey a = key(5);
    FlowKey b{};
    for (std::uint32_t i = 6;; ++i)
        if ((h32(key(i)) & 1023) == (h32(a) & 1023)) { b = key(i); break; }
    const int s = x.send(kTcpSyn, kT0, a);
    x.send(kTcpAck, kT0 + 500 * kMs, a);
    REQUIRE(x.lb.n_flow_on(unsigned(s)) == 1);
    x.send(kTcpSyn, kT0 + 45 * kS, b); // 44.5 s after a's last packet: a's slot is reused
    CHECK(x.c().guessed_fcts == 1);
    CHECK(x.lb.n_flow_on(unsigned(s)) == 1);
    const Reservoir &r = x.lb.fct(unsigned(s));
    REQUIRE(nonzero_slots(r) == 1);
    for (unsigned i = 0; i < Reservoir::kCap; ++i)
        if (r.raw().timestamps[i]) CHECK(r.raw().values[i] == Approx(45.0 - 40.0));

    Lb y(LbModel::clean, {1, 1}, Policy::sed, 10);
    const int t = y.send(kTcpSyn, kT0, a);
    y.send(kTcpAck, kT0 + 500 * kMs, a);
    y.send(kTcpAck, kT0 + 45 * kS, a);
    CHECK(y.lb.n_flow_on(unsigned(t)) == 0);
    CHECK(y.lb.fct(unsigned(t)).count() == 0);
}

TEST_CASE("6. marllb: a SYN on a live ACKed entry keeps its server and SYN time (clean: a new connection)", "[lbmodel]") {
    for (LbModel m : {LbModel::marllb, LbModel::clean}) {
        Lb x(m);
        const FlowKey k = key(7);
        const int s = x.send(kTcpSyn, kT0, k);
        x.send(kTcpAck, kT0 + kMs, k);
        const int again = x.send(kTcpSyn, kT0 + kS, k);
        if (m == LbModel::marllb) {
            CHECK(again == s);
            CHECK(x.lb.n_flow_on(unsigned(s)) == 1);
            CHECK(x.c().repeated_syns == 1);
            x.send(kTcpAck, kT0 + 2 * kS, k);
            const Reservoir &d = x.lb.duration(unsigned(s));
            REQUIRE(d.seen() == 1); // measured from the first SYN
            for (unsigned i = 0; i < Reservoir::kCap; ++i)
                if (d.raw().timestamps[i]) CHECK(d.raw().values[i] == Approx(2.0));
        } else {
            CHECK(again >= 0); // picked afresh (the old connection counted off first)
            CHECK(x.c().flows == 2);
            CHECK(x.lb.n_flow_on(unsigned(s)) == 0);
        }
    }
}

TEST_CASE("7. marllb: ECMP is a 64-entry Maglev table, 7 servers hold 10 / 9 entries (clean: uniform)", "[lbmodel]") {
    Lb x(LbModel::marllb, {1, 1, 1, 1, 2, 2, 2}, Policy::ecmp);
    std::vector<unsigned> entries(7);
    for (unsigned i = 0; i < kMaglevLen; ++i) ++entries[x.lb.maglev_entry(i)];
    std::sort(entries.begin(), entries.end());
    CHECK(entries == std::vector<unsigned>{9, 9, 9, 9, 9, 9, 10});
    // 24 servers: 64 = 2 x 24 + 16, so 16 servers hold 3 entries and 8 hold 2.
    Lb y(LbModel::marllb, std::vector<double>(24, 1.0), Policy::ecmp);
    std::vector<unsigned> e24(24);
    for (unsigned i = 0; i < kMaglevLen; ++i) ++e24[y.lb.maglev_entry(i)];
    CHECK(std::count(e24.begin(), e24.end(), 3u) == 16);
    CHECK(std::count(e24.begin(), e24.end(), 2u) == 8);
    // Flows follow the table.
    std::vector<unsigned> flows(7);
    for (std::uint32_t i = 0; i < 64'000; ++i) ++flows[unsigned(x.send(kTcpSyn, kT0, key(i, 1000)))];
    const unsigned most = *std::max_element(flows.begin(), flows.end());
    const unsigned least = *std::min_element(flows.begin(), flows.end());
    CHECK(double(most) / double(least) > 1.05);
}

TEST_CASE("8. SED ties: the hashed server keeps the flow unless another scores strictly lower", "[lbmodel]") {
    for (LbModel m : {LbModel::marllb, LbModel::clean}) {
        Lb x(m, {1, 1, 1, 1, 2, 2, 2}, Policy::lsq);
        std::vector<unsigned> flows(7);
        for (std::uint32_t i = 0; i < 700; ++i) ++flows[unsigned(x.send(kTcpSyn, kT0, key(i)))]; // never ACKed: n stays 0
        INFO(describe(m));
        for (unsigned s = 0; s < 7; ++s) CHECK(flows[s] > 40); // spread, not all on server 0
    }
}

TEST_CASE("9. SED weights: marllb scores (n+1)/(1e-9+w): all-zero weights still pick (like LSQ)", "[lbmodel]") {
    for (LbModel m : {LbModel::marllb, LbModel::clean}) {
        Lb x(m, {1, 1}, Policy::agent_sed);
        marllb_msg_in_t a{};
        a.num_servers = 2; // weights all 0
        x.lb.apply_action(a);
        const FlowKey k1 = key(9), k2 = key(10);
        const int s1 = x.send(kTcpSyn, kT0, k1);
        CHECK(s1 >= 0);
        x.send(kTcpAck, kT0, k1);
        const int s2 = x.send(kTcpSyn, kT0, k2);
        CHECK(s2 >= 0);
        if (m == LbModel::marllb) CHECK(s2 != s1); // 1e9 (n + 1): the server with fewer flows
        CHECK(x.c().dropped() == 0);
    }
    // clean: a zero weight never wins against a positive one, whatever the counts.
    Lb y(LbModel::clean, {1, 1}, Policy::agent_sed);
    marllb_msg_in_t a{};
    a.num_servers = 2;
    a.weights[1] = 1;
    y.lb.apply_action(a);
    for (std::uint32_t i = 0; i < 20; ++i) {
        CHECK(y.send(kTcpSyn, kT0, key(100 + i)) == 1);
        y.send(kTcpAck, kT0, key(100 + i));
    }
}

TEST_CASE("10. marllb reservoirs: random slots from the first sample, features over all 128 slots, zeros included", "[lbmodel]") {
    Lb x(LbModel::marllb), y(LbModel::clean);
    const FlowKey k = key(11);
    for (Lb *l : {&x, &y}) {
        l->send(kTcpSyn, kT0, k);
        l->send(kTcpAck, kT0, k);
        l->send(kTcpRst | kTcpAck, kT0 + kS, k); // one FCT sample of 1 s
    }
    marllb_msg_out_t mx{}, my{};
    x.lb.observe(kT0 + kS, mx);
    y.lb.observe(kT0 + kS, my);
    float fx = 0, fy = 0;
    for (unsigned s = 0; s < 2; ++s) {
        fx += mx.as_stats[s].reservoir_features[MARLLB_FCT_MEAN];
        fy += my.as_stats[s].reservoir_features[MARLLB_FCT_MEAN];
    }
    CHECK(fx == Approx(1.0 / 128));
    CHECK(fy == Approx(1.0));
    // Over many flows the first sample's slot is spread over all 128.
    unsigned slot_zero = 0;
    for (std::uint64_t seed = 1; seed <= 64; ++seed) {
        LoadBalancer l(LbConfig{.capacities = {1}, .seed = seed});
        std::uint8_t f[kFrameLen];
        for (std::uint8_t fl : {kTcpSyn, kTcpAck, std::uint8_t(kTcpRst | kTcpAck)}) {
            build_frame(f, k, fl, 1);
            l.process(f, sizeof f, kT0 + (fl & kTcpRst ? kS : 0));
        }
        slot_zero += l.fct(0).raw().timestamps[0] != 0;
    }
    CHECK(slot_zero < 8);
}

TEST_CASE("12. marllb: flows are keyed by a 32-bit hash and the VIP: a collision merges two flows", "[lbmodel]") {
    std::unordered_map<std::uint32_t, FlowKey> seen;
    FlowKey a{}, b{};
    for (std::uint32_t i = 0;; ++i) {
        const FlowKey k = key(i & 0xFFFFF, std::uint16_t(1024 + (i >> 20)));
        auto [it, fresh] = seen.emplace(h32(k), k);
        if (!fresh && !(it->second == k)) { a = it->second, b = k; break; }
    }
    Lb x(LbModel::marllb), y(LbModel::clean);
    for (Lb *l : {&x, &y}) {
        l->send(kTcpSyn, kT0, a);
        l->send(kTcpAck, kT0, a);
        l->send(kTcpSyn, kT0 + kMs, b);
    }
    CHECK(x.c().flows == 1); // b's SYN found a's entry: a repeated SYN
    CHECK(x.c().repeated_syns == 1);
    CHECK(y.c().flows == 2);
}

TEST_CASE("13. clients ACK once a worker takes the request, not while it waits in the backlog", "[lbmodel][world]") {
    for (bool from_request : {false, true}) {
        WorldConfig wc;
        wc.capacities = {1};
        for (int i = 0; i < 40; ++i) wc.trace.push_back({i * 1e-3, 1000}); // 40 requests of 1 s of work
        wc.seconds_per_iteration = 1e-3;
        wc.acks_from_request = from_request;
        World world(wc);
        LoadBalancer lb(LbConfig{.capacities = {1}});
        std::unordered_map<std::uint32_t, unsigned> acks; // per client address
        std::uint8_t frame[kFrameLen];
        std::vector<Packet> out;
        while (world.next_event() <= 500 * kMs) {
            out.clear();
            world.run_until(world.next_event(), [&](const Packet &p) { out.push_back(p); });
            for (const Packet &p : out) {
                if (p.flags == kTcpAck) ++acks[p.key.src_ip];
                build_frame(frame, p.key, p.flags, p.seq);
                if (lb.process(frame, kFrameLen, p.t_ns) >= 0) world.on_forwarded(frame, kFrameLen, p.t_ns);
            }
        }
        unsigned streaming = 0; // flows that sent more than the handshake ACK
        for (auto &[ip, n] : acks) streaming += n > 1;
        CHECK(streaming == (from_request ? 40u : 32u));
    }
}
