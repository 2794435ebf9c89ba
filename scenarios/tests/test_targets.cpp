// Targets and verdicts (scenarios/targets.toml): a row is ok only when it meets every target
// that applies and breaks no invariant; a missed target makes it miss, a broken invariant fail;
// a broken targets file is refused with the file, the line and what to do.
#include "scenario.hpp"

#include <catch2/catch.hpp>

using namespace marllb::scenarios;

namespace {
const char *kFile = R"(
[[target]]
id = "observation_write"
source = "seed"
what = "publish call p99"
scenario = "cadence"
metric = "publish_call"
quantity = "p99"
op = "<"
limit = 1000
unit = "ns"

[[target]]
id = "updates_without_loss"
source = "seed"
what = "no loss at 5,000/s"
scenario = "wrap"
regime = "stress"
metric = "publish_to_read"
quantity = "lost"
op = "=="
limit = 0
unit = "messages"
max_cadence_us = 200

[[target]]
id = "agent_death_noticed"
source = "project"
what = "noticed in time"
scenario = "crash"
regime = "agent-kill"
metric = "kill_to_fallback"
quantity = "max"
op = "<="
per_run_limit = true
heartbeats = 2
cadences = 1
unit = "ms"

[[invariant]]
id = "no_torn_accepted"
what = "never torn"
)";

Targets targets() {
    Targets t;
    REQUIRE(parse_targets(kFile, "t.toml", t) == "");
    return t;
}

Row publish_row(double p99) {
    Row r{.scenario = "cadence", .regime = "reactive-cold", .metric = "publish_call"};
    r.s.count = 100, r.s.p99 = p99;
    return r;
}
} // namespace

TEST_CASE("a row under every target is ok, one over a target is miss and names it", "[targets]") {
    const Targets t = targets();
    Row ok = publish_row(900);
    REQUIRE(judge(ok, t) == "");
    CHECK(ok.status == "ok");
    Row slow = publish_row(5921);
    REQUIRE(judge(slow, t) == "");
    CHECK(slow.status == "miss");
    CHECK_THAT(slow.note, Catch::StartsWith("missed observation_write (p99 5921, limit < 1000 ns)"));
}

TEST_CASE("a broken invariant is fail, whatever the targets say", "[targets]") {
    const Targets t = targets();
    Row r = publish_row(900);
    r.fail("no_torn_accepted", "1 torn observations accepted");
    REQUIRE(judge(r, t) == "");
    CHECK(r.status == "fail");
    CHECK_THAT(r.note, Catch::Contains("broken no_torn_accepted"));
}

TEST_CASE("an invariant id the file lacks is an error, not a silent pass", "[targets][bad-input]") {
    const Targets t = targets();
    Row r = publish_row(900);
    r.fail("no_such_invariant", "x");
    CHECK_THAT(judge(r, t), Catch::Contains("'no_such_invariant' is not in t.toml"));
}

TEST_CASE("a latency target with no samples is missed, not met by a zero", "[targets]") {
    const Targets t = targets();
    Row r = publish_row(0);
    r.s.count = 0;
    REQUIRE(judge(r, t) == "");
    CHECK(r.status == "miss");
    CHECK_THAT(r.note, Catch::Contains("no samples"));
}

TEST_CASE("regime, metric and publish rate select the rows a target applies to", "[targets]") {
    const Targets t = targets();
    Row stress{.scenario = "wrap", .regime = "stress", .metric = "publish_to_read", .cadence_us = 200};
    stress.lost = 3;
    REQUIRE(judge(stress, t) == "");
    CHECK(stress.status == "miss");
    Row slower = stress;
    slower.status = "ok", slower.note.clear(), slower.cadence_us = 1000; // 1,000/s: the 5,000/s target does not apply
    REQUIRE(judge(slower, t) == "");
    CHECK(slower.status == "ok");
    Row ratio = stress;
    ratio.status = "ok", ratio.note.clear(), ratio.regime = "ratio-4";
    REQUIRE(judge(ratio, t) == "");
    CHECK(ratio.status == "ok");
}

TEST_CASE("a per-run limit is the row's expected value", "[targets]") {
    const Targets t = targets();
    Row r{.scenario = "crash", .regime = "agent-kill", .metric = "kill_to_fallback", .unit = "ms", .expected = 300};
    r.s.count = 50, r.s.max = 299;
    REQUIRE(judge(r, t) == "");
    CHECK(r.status == "ok");
    r.s.max = 301, r.note.clear();
    REQUIRE(judge(r, t) == "");
    CHECK(r.status == "miss");
}

TEST_CASE("an unavailable row stays unavailable", "[targets]") {
    const Targets t = targets();
    Row r{.scenario = "cadence", .regime = "cold", .metric = "all", .status = "unavailable"};
    REQUIRE(judge(r, t) == "");
    CHECK(r.status == "unavailable");
}

TEST_CASE("a broken targets file is refused with its line and what to do", "[targets][bad-input]") {
    Targets t;
    CHECK_THAT(parse_targets("[[target]]\nid = \"x\"\n", "b.toml", t), Catch::StartsWith("b.toml:1: a [[target]] needs a string"));
    CHECK_THAT(parse_targets(std::string(kFile) + "[[target]]\nid=\"y\"\nsource=\"seed\"\nwhat=\"w\"\nscenario=\"s\"\nmetric=\"m\"\n"
                                                  "quantity=\"p42\"\nop=\"<\"\nlimit=1\nunit=\"ns\"\n",
                             "b.toml", t),
               Catch::Contains("unknown quantity 'p42'"));
    CHECK_THAT(parse_targets("[[target]]\nid = \"x\"\nlimt = 3\n", "b.toml", t), Catch::Contains("unknown key 'limt'"));
    CHECK_THAT(parse_targets("[oops]\n", "b.toml", t), Catch::Contains("unknown table 'oops'"));
    CHECK_THAT(parse_targets("x = [\n", "b.toml", t), Catch::StartsWith("b.toml:"));
}

TEST_CASE("the project's targets file parses and names the seed's targets", "[targets]") {
    Targets t;
    REQUIRE(load_targets(MARLLB_TARGETS_FILE, t) == "");
    for (const char *id : {"observation_write", "observation_read", "action_write", "action_read", "end_to_end",
                           "updates_without_loss", "agent_death_noticed"})
        CHECK(t.target(id));
}

TEST_CASE("an over-the-null target reads its limit from the row and needs a per-run limit", "[targets]") {
    // The binary writes the null event's quantity + over_null into `expected`; judge compares.
    const std::string entry = "[[target]]\nid=\"e2e_over_null\"\nsource=\"project\"\nwhat=\"w\"\nscenario=\"cadence\"\n"
                              "metric=\"end_to_end\"\nquantity=\"p99\"\nop=\"<=\"\nunit=\"ns\"\n";
    Targets t;
    REQUIRE(parse_targets(entry + "per_run_limit = true\nover_null = 10000\n", "t.toml", t) == "");
    REQUIRE(t.target("e2e_over_null"));
    CHECK(t.target("e2e_over_null")->over_null == 10000);
    Row r{.scenario = "cadence", .regime = "reactive-cold", .metric = "end_to_end", .expected = 25000};
    r.s.count = 1000, r.s.p99 = 25000;
    REQUIRE(judge(r, t) == "");
    CHECK(r.status == "ok");
    r.s.p99 = 25001, r.note.clear();
    REQUIRE(judge(r, t) == "");
    CHECK(r.status == "miss");
    Targets bad;
    CHECK_THAT(parse_targets(entry + "limit = 1\nover_null = 10000\n", "b.toml", bad), Catch::Contains("over_null needs per_run_limit"));
    Row null_row{.scenario = "cadence", .metric = "null_end_to_end"};
    null_row.s.p99 = 1234;
    double q = 0;
    CHECK((quantity(null_row, "p99", q) && q == 1234));
}
