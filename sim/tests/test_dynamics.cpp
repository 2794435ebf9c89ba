// The world's dynamics (docs/sim.md, "Dynamics"): work per flow from heavy-tailed
// distributions checked against their analytic means and quantiles, a capacity event that the
// servers feel at the time the schedule names, a drained server that gets no new flow, and
// the schedule file's errors. Lockstep on the plain library: exact and reproducible.
#include "events.hpp"
#include "lockstep.hpp"
#include "work.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace marllb::sim;

namespace {

std::vector<double> draw(const WorkDist &w, std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<double> v(n);
    for (auto &x : v) x = w.sample(rng);
    std::sort(v.begin(), v.end());
    return v;
}

double empirical(const std::vector<double> &sorted, double u) { return sorted[std::size_t(u * double(sorted.size() - 1))]; }

WorkDist dist(const char *spec, double mean) {
    auto w = WorkDist::parse(spec, mean);
    REQUIRE(w);
    return *w;
}

} // namespace

TEST_CASE("lognormal work: sample mean and quantiles match the analytic ones", "[dynamics][work]") {
    // std::lognormal_distribution draws; quantile() is the project's normal quantile: two
    // independent computations.
    const WorkDist w = dist("lognormal:1.5", 0.05);
    const auto v = draw(w, 1'000'000, 3);
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    CHECK(mean == Approx(0.05).epsilon(0.03)); // the lognormal's CV is 2.9: 0.3 % per sigma at 10^6
    for (double u : {0.1, 0.5, 0.9, 0.99}) CHECK(empirical(v, u) == Approx(w.quantile(u)).epsilon(0.02));
    // exp(mu) is the median, with mu = ln(mean) - sigma^2 / 2.
    CHECK(w.quantile(0.5) == Approx(0.05 * std::exp(-1.5 * 1.5 / 2)).epsilon(1e-9));
}

TEST_CASE("bounded Pareto work: mean, bounds and tail as its formulas say", "[dynamics][work]") {
    for (const char *spec : {"pareto:1.2", "pareto:2.5:100", "pareto:0.8:1000"}) {
        INFO(spec);
        const WorkDist w = dist(spec, 0.05);
        // The mean formula against the quantile integrated numerically (midpoints, 2 x 10^6).
        double integral = 0;
        const int n = 2'000'000;
        for (int i = 0; i < n; ++i) integral += w.quantile((i + 0.5) / n);
        CHECK(integral / n == Approx(0.05).epsilon(0.01));
        CHECK(w.quantile(0) == Approx(w.low()));
        CHECK(w.quantile(1) == Approx(w.high()));
        // The tail of the samples against the survival function P(X > x) = (L^a x^-a - L^a H^-a) / (1 - (L/H)^a).
        const auto v = draw(w, 1'000'000, 5);
        const double a = std::stod(std::string(spec).substr(7)), L = w.low(), H = w.high();
        for (double x : {2 * L, 10 * L}) {
            const double survival = (std::pow(L / x, a) - std::pow(L / H, a)) / (1 - std::pow(L / H, a));
            const double seen = double(v.end() - std::upper_bound(v.begin(), v.end(), x)) / double(v.size());
            CHECK(seen == Approx(survival).epsilon(0.03));
        }
        const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
        CHECK(mean == Approx(0.05).epsilon(0.06)); // CV near 10 for pareto:1.2: 1 % per sigma
    }
}

TEST_CASE("work specs that are not a distribution are refused with what was wrong", "[dynamics][work]") {
    for (const char *bad : {"pareto", "pareto:1", "pareto:5", "pareto:1.5:1", "lognormal:0", "lognormal:x", "uniform", "exp:2"}) {
        INFO(bad);
        auto w = WorkDist::parse(bad, 0.05);
        REQUIRE_FALSE(w);
        CHECK(w.error().message.find(std::string("'") + bad + "'") != std::string::npos);
    }
    CHECK_FALSE(WorkDist::parse("exp", 0));
}

namespace {
constexpr std::uint64_t kSec = 1'000'000'000ull;

struct TwoServers {
    WorldConfig wc;
    std::unique_ptr<World> world;
    std::unique_ptr<LoadBalancer> lb;
    explicit TwoServers(std::vector<WorldEvent> events, std::vector<double> caps = {1.0, 1.0}) {
        wc.capacities = caps;
        wc.mean_work_s = 0.01;
        wc.rate = 0.6 * double(caps.size()) / 0.01; // 60 % load
        wc.ack_interval_ns = 1'000'000'000;
        wc.seed = 21;
        wc.events = std::move(events);
        world = std::make_unique<World>(wc);
        lb = std::make_unique<LoadBalancer>(LbConfig{.capacities = caps, .policy = Policy::sed});
        lb->set_drains(drain_events(wc.events, 0));
    }
    void run_to(std::uint64_t t) { LockstepRun{*world, *lb, 200'000'000, {}}.run(0, t); }
};

double mean_of(const std::vector<float> &v, std::size_t from, std::size_t to) {
    return std::accumulate(v.begin() + std::ptrdiff_t(from), v.begin() + std::ptrdiff_t(to), 0.0) / double(to - from);
}
} // namespace

TEST_CASE("a capacity event shows in the server's utilisation and in the FCTs from the time it names",
          "[dynamics][events]") {
    // Server 0 of two 1-core servers really has 0.3 cores from 20 s on; the LB keeps believing 1.
    TwoServers t({WorldEvent{20.0, WorldEvent::Kind::capacity, 0, 0.3}});
    t.run_to(20 * kSec);
    const double busy_before = t.world->server(0).busy_core_seconds();
    const std::size_t fcts_before = t.world->fct_s().size();
    t.run_to(40 * kSec);
    const double busy_after = t.world->server(0).busy_core_seconds() - busy_before;
    const double util_before = busy_before / 20.0, util_after = busy_after / (0.3 * 20.0);
    INFO("utilisation of server 0: " << util_before << " before, " << util_after << " after");
    CHECK(util_before < 0.75);
    CHECK(util_after > 0.9);
    const auto &f = t.world->fct_s();
    const double fct_before = mean_of(f, 0, fcts_before), fct_after = mean_of(f, fcts_before, f.size());
    INFO("mean FCT " << fct_before << " s before, " << fct_after << " s after");
    CHECK(fct_after > 1.5 * fct_before);
    // Utilisation over the run is busy time over the core-seconds the server had.
    const auto u = t.world->utilisation(40 * kSec);
    CHECK(u[0] == Approx((busy_before + busy_after) / (20.0 + 0.3 * 20.0)).epsilon(1e-9));
    CHECK(u[0] <= 1.0);
}

TEST_CASE("a drained server gets no new flow until it is restored, and the others take them", "[dynamics][events]") {
    TwoServers t({WorldEvent{10.0, WorldEvent::Kind::drain, 2, 0}, WorldEvent{20.0, WorldEvent::Kind::restore, 2, 0}},
                 {1.0, 1.0, 1.0});
    t.run_to(10 * kSec - 1);
    const auto a2 = t.world->server(2).admissions(), a0 = t.world->server(0).admissions();
    CHECK(a2 > 100);
    t.run_to(20 * kSec - 1);
    CHECK(t.world->server(2).admissions() == a2);
    CHECK(t.world->server(0).admissions() > a0 + 100);
    CHECK(t.lb->drained(2));
    t.run_to(30 * kSec);
    CHECK_FALSE(t.lb->drained(2));
    CHECK(t.world->server(2).admissions() > a2 + 100);
}

TEST_CASE("a rate event changes the arrivals from its time", "[dynamics][events]") {
    // 120 flows/s, then 360 from 10 s on.
    TwoServers t({WorldEvent{10.0, WorldEvent::Kind::rate, -1, 360.0}});
    t.run_to(10 * kSec);
    const auto before = t.world->counters().flows_started;
    t.run_to(20 * kSec);
    const auto after = t.world->counters().flows_started - before;
    CHECK(double(before) == Approx(1200).epsilon(0.1));
    CHECK(double(after) == Approx(3600).epsilon(0.1));
}

TEST_CASE("a rate event replaces the arrival drawn at the old rate, and a tiny rate ends arrivals", "[dynamics][events]") {
    // At 0.05 flows/s the first arrival is due after some 20 s; the event at 1 s brings 120/s.
    TwoServers slow({WorldEvent{1.0, WorldEvent::Kind::rate, -1, 120.0}});
    slow.wc.rate = 0.05;
    slow.world = std::make_unique<World>(slow.wc);
    slow.run_to(6 * kSec);
    CHECK(double(slow.world->counters().flows_started) == Approx(600).epsilon(0.15));
    // A rate whose gaps overflow 64-bit nanoseconds: no arrival after the event, no hang.
    TwoServers tiny({WorldEvent{1.0, WorldEvent::Kind::rate, -1, 1e-300}});
    tiny.wc.arrivals_until_ns = 10 * kSec;
    tiny.world = std::make_unique<World>(tiny.wc);
    tiny.run_to(1 * kSec);
    const auto at_event = tiny.world->counters().flows_started;
    tiny.run_to(20 * kSec);
    CHECK(tiny.world->counters().flows_started <= at_event + 1);
    CHECK(tiny.world->arrivals_done());
}

TEST_CASE("an events file's errors name the file, the line and what was wrong", "[dynamics][events]") {
    const std::string head = "time_s,event,server,value\n";
    struct Case { std::string text; std::string says; };
    for (const Case &c : {Case{"0,capacity,1,2\n", "ev.csv:1: the first line must be the header"},
                          Case{head + "5,capacity,1\n", "ev.csv:2: 3 fields"},
                          Case{head + "x,capacity,1,2\n", "ev.csv:2: time 'x'"},
                          Case{head + "5,capacity,1,2\n4,capacity,1,2\n", "ev.csv:3: time 4 goes back"},
                          Case{head + "5,explode,1,2\n", "ev.csv:2: unknown event 'explode'"},
                          Case{head + "# a comment\n5,capacity,7,2\n", "ev.csv:3: server '7'"},
                          Case{head + "5,rate,1,300\n", "ev.csv:2: a rate event names no server"},
                          Case{head + "5,capacity,1,0\n", "ev.csv:2: capacity '0'"},
                          Case{head + "5,drain,1,3\n", "ev.csv:2: drain takes no value"},
                          Case{"", "ev.csv:1: the file is empty"},
                          Case{"\xEF\xBB\xBF" + head + "x,drain,1,\n", "ev.csv:2: time 'x'"}}) {
        INFO(c.text);
        auto ev = parse_events(c.text, "ev.csv", 7);
        REQUIRE_FALSE(ev);
        CHECK(ev.error().message.find(c.says) != std::string::npos);
    }
    auto ok = parse_events(head + "\n1.5,capacity,6,0.5 # throttled\n2,drain,0,\n3,rate,,250\n", "ev.csv", 7);
    REQUIRE(ok);
    REQUIRE(ok->size() == 3);
    CHECK(((*ok)[0].server == 6 && (*ok)[0].value == 0.5 && (*ok)[2].kind == WorldEvent::Kind::rate && (*ok)[2].value == 250));
}
