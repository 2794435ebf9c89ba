// marllb-sim's summary and result row, from a hand-made RunReport: the lines a person reads
// and marllb-pipeline's columns carry the run's numbers, each in its place. What the
// numbers are worth (the lcores that produce them) is sim/tests/test_marllb_sim.py's.
#include "run_report.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace marllb;
using namespace marllb::sim;

namespace {

RunReport sample() {
    RunReport r;
    r.mode = RunMode::realtime;
    r.policy = Policy::sed;
    r.model = LbModel::marllb;
    r.servers = "1,2";
    r.traffic = "poisson";
    r.publish_us = 200'000;
    r.duration_s = 4;
    r.wall_s = 8;
    r.lb.packets = 2'000'000;
    r.lb.flows = 70;
    r.lb.actions_applied = 12;
    r.published = 20;
    r.rejected = 1;
    r.publish_cost_ns = {1000, 2000, 3000, 4000};
    r.gaps.add(200'000'000);
    r.gaps.add(400'000'000);
    WorldResults w;
    w.counters.flows_started = 71;
    w.counters.flows_completed = 69;
    w.fct_s = {0.010f, 0.020f, 0.030f};
    w.utilisation = {0.5, 0.5};
    w.rate_per_s = 51;
    r.world = w;
    return r;
}

std::string value(const measure::ResultRow &row, const std::string &name) {
    for (const auto &[k, v] : row.columns())
        if (k == name) return v;
    FAIL("no column " << name);
    return {};
}

std::string line_of(const std::string &text, const std::string &label) {
    const auto at = text.find(label);
    REQUIRE(at != std::string::npos);
    const auto start = text.rfind('\n', at) + 1;
    return text.substr(start, text.find('\n', at) - start);
}

} // namespace

TEST_CASE("run report: LB packet rate is per simulated second in real time, per wall second in lockstep, the LB phase's in flood",
          "[report]") {
    RunReport r = sample();
    CHECK(lb_mpps(r) == Approx(0.5)); // 2e6 packets / 4 simulated s
    r.mode = RunMode::lockstep;
    CHECK(lb_mpps(r) == Approx(0.25)); // / 8 wall s
    r.mode = RunMode::flood;
    r.flood.full_mpps = 6.5;
    CHECK(lb_mpps(r) == 6.5);
}

TEST_CASE("run report: counters of several LB instances are summed field by field", "[report]") {
    LbCounters a, b, t;
    a.packets = 3, a.flows = 1, a.drops[1] = 2, a.untracked = 5, a.fallbacks = 1;
    b.packets = 4, b.flows = 2, b.drops[1] = 1, b.drops[kDropReasons - 1] = 7, b.negative_on = 2;
    add_counters(t, a);
    add_counters(t, b);
    CHECK(t.packets == 7);
    CHECK(t.flows == 3);
    CHECK(t.drops[1] == 3);
    CHECK(t.drops[kDropReasons - 1] == 7);
    CHECK(t.dropped() == 10);
    CHECK(t.untracked == 5);
    CHECK(t.negative_on == 2);
    CHECK(t.fallbacks == 1);
}

TEST_CASE("run report: the summary lines carry the run's numbers where test_marllb_sim.py and people read them", "[report]") {
    const std::string s = summary_text(sample());
    CHECK(s.rfind("\nmarllb-sim realtime: policy sed, servers 1,2, 1 LB, 4.0 s\n", 0) == 0);
    CHECK(line_of(s, "packets at the LB") == "  packets at the LB            2000000 (0.500 Mpps)");
    CHECK(line_of(s, "observations / actions") ==
          "  observations / actions       20 published, 12 actions applied, 1 rejected, 0 fallbacks");
    CHECK(line_of(s, "gaps between publishes") ==
          "  gaps between publishes       min 200.000 ms, mean 300.000 ms, max 400.000 ms (marllb model)");
    CHECK(line_of(s, "FCT (clients)") == "  FCT (clients)                p50 20.0 ms, p90 28.0 ms, p99 29.8 ms");
    CHECK(line_of(s, "publish cost") == "  publish cost (features+copy) p50 2.50 us, p99 3.97 us, max 4.00 us (4 publishes)");
    CHECK(s.find("throughput") == std::string::npos); // flood lines only in flood mode
    CHECK(s.find("lockstep ") == std::string::npos);  // no timeouts, no line
}

TEST_CASE("run report: flood mode prints both phases and no client lines", "[report]") {
    RunReport r = sample();
    r.mode = RunMode::flood;
    r.world.reset();
    r.flood = {.bare_mpps = 20, .full_mpps = 5, .bare_empty_polls = 0.5, .full_empty_polls = 0.25, .bare_burst = 30, .full_burst = 8};
    const std::string s = summary_text(r);
    CHECK(line_of(s, "throughput") == "  throughput (64-byte frames)  bare rx->tx 20.00 Mpps, LB 5.00 Mpps (0.25 of bare)");
    CHECK(line_of(s, "LB lcore rx polls") == "  LB lcore rx polls            bare 50.0 % empty, mean burst 30.0; LB 25.0 % empty, mean burst 8.0");
    CHECK(s.find("client flows") == std::string::npos);
}

TEST_CASE("run report: a flood row is ok only when the LB was saturated, and the summary says which", "[report]") {
    // Saturated: frames waited for the LB (the world found its input ring full in >= 50 % of
    // its bursts) and the LB lcore was busy >= 95 % of the LB phase. Otherwise the generator
    // set the rate, the row is a miss and the capacity (frames / busy time) is the LB's figure.
    RunReport r = sample();
    r.mode = RunMode::flood;
    r.world.reset();
    r.flood = {.bare_mpps = 40, .full_mpps = 15, .full_empty_polls = 0.01, .full_busy = 0.95,
               .full_capacity_mpps = 15.5, .full_gen_mpps = 15.1, .full_ring_share = 0.5};
    const measure::ResultRow ok = result_row(r, measure::Host{});
    CHECK(value(ok, "status") == "ok");
    CHECK(value(ok, "capacity_mpps") == "15.5");
    CHECK(value(ok, "busy") == "0.95");
    CHECK(value(ok, "gen_mpps") == "15.1");
    CHECK(line_of(summary_text(r), "LB phase   ").find("saturated: frames waited for the LB") != std::string::npos);
    CHECK(line_of(summary_text(r), "backlog") == "  backlog                      50.0 % of the world's bursts found the LB's input ring full");
    CHECK(line_of(summary_text(r), "LB lcore  ") == "  LB lcore                     busy 95.0 % of the LB phase: capacity 15.50 Mpps (64.5 ns per frame)");
    r.flood.full_busy = 0.99; // busy, but nothing ever waited: the two lcores ran in step
    r.flood.full_ring_share = 0.49;
    CHECK(value(result_row(r, measure::Host{}), "status") == "miss");
    CHECK(line_of(summary_text(r), "LB phase   ").find("NOT saturated: no backlog") != std::string::npos);
    r.flood.full_ring_share = 0.9; // a backlog, but the LB lcore idle 6 % of the time
    r.flood.full_busy = 0.94;
    CHECK(value(result_row(r, measure::Host{}), "status") == "miss");
    // Rows of the other modes keep their columns: no status, no flood figures.
    const measure::ResultRow other = result_row(sample(), measure::Host{});
    for (const auto &[k, v] : other.columns()) CHECK((k != "status" && k != "capacity_mpps"));
}

TEST_CASE("run report: the result row has the columns marllb-pipeline reads, with this run's values", "[report]") {
    const measure::ResultRow row = result_row(sample(), measure::Host{});
    CHECK(value(row, "mode") == "realtime");
    CHECK(value(row, "policy") == "sed");
    CHECK(value(row, "servers") == "1,2");
    CHECK(value(row, "observations") == "20");
    CHECK(value(row, "actions_applied") == "12");
    CHECK(value(row, "actions_rejected") == "1");
    CHECK(value(row, "flows_completed") == "69");
    CHECK(value(row, "mpps") == "0.5");
    CHECK(value(row, "rate_per_s") == "51");
    CHECK(value(row, "fct_p50_s") == "0.02");
    CHECK(value(row, "jain_util") == "1");
    CHECK(value(row, "publish_cost_p50_us") == "2.5");
    RunReport flood = sample();
    flood.world.reset();
    const measure::ResultRow f = result_row(flood, measure::Host{});
    CHECK(value(f, "flows_completed") == "0");
    CHECK(value(f, "jain_util") == "0");
}
