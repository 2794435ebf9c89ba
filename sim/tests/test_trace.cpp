// The trace parser: the committed MARLLB traces load; every kind of broken line is refused
// with the file name, the line number and what was wrong.
#include "trace.hpp"

#include <catch2/catch.hpp>

using namespace marllb::sim;

TEST_CASE("the MARLLB traces load: ~78k requests, times non-decreasing", "[trace]") {
    for (const char *f : {"poisson_for_loop_rate_150.csv", "poisson_for_loop_rate_350.csv"}) {
        auto t = load_trace(std::string(MARLLB_TRACE_DIR) + "/" + f);
        REQUIRE(t.has_value());
        CHECK(t->size() > 77000);
        CHECK(t->front().n == 5478122);
    }
}

TEST_CASE("a broken trace line names the file, the line and the fault", "[trace][bad-input]") {
    struct Case { const char *text; const char *line; const char *fault; };
    const Case cases[] = {
        {"0.1\t/dummy.php/?n=5\n", "t.csv:1:", "header"},
        {"time\tquery\n0.1 /dummy.php/?n=5\n", "t.csv:2:", "no tab"},
        {"time\tquery\n0.1\t/dummy.php/?n=5\nabc\t/dummy.php/?n=5\n", "t.csv:3:", "not a finite number"},
        {"time\tquery\n-1\t/dummy.php/?n=5\n", "t.csv:2:", "not a finite number"},
        {"time\tquery\nnan\t/dummy.php/?n=5\n", "t.csv:2:", "not a finite number"},
        {"time\tquery\n0.5\t/dummy.php/?n=5\n0.4\t/dummy.php/?n=5\n", "t.csv:3:", "goes back"},
        {"time\tquery\n0.1\t/index.html\n", "t.csv:2:", "does not start with"},
        {"time\tquery\n0.1\t/dummy.php/?n=12x\n", "t.csv:2:", "whole number"},
        {"time\tquery\n0.1\t/dummy.php/?n=0\n", "t.csv:2:", "whole number"},
        {"time\tquery\n0.1\t/dummy.php/?n=\n", "t.csv:2:", "whole number"},
        {"time\tquery\n", "t.csv:1:", "no requests"},
    };
    for (const auto &c : cases) {
        INFO(c.text);
        auto t = parse_trace(c.text, "t.csv");
        REQUIRE_FALSE(t.has_value());
        CHECK_THAT(t.error().message, Catch::Contains(c.line) && Catch::Contains(c.fault));
    }
}

TEST_CASE("CRLF line ends and blank lines are accepted", "[trace]") {
    auto t = parse_trace("time\tquery\r\n0.5\t/dummy.php/?n=3\r\n\r\n1.5\t/dummy.php/?n=4\r\n", "crlf.csv");
    REQUIRE(t.has_value());
    REQUIRE(t->size() == 2);
    CHECK(t->at(1).time_s == 1.5);
    CHECK(t->at(1).n == 4);
}

TEST_CASE("a missing trace file says so and what to do", "[trace][bad-input]") {
    auto t = load_trace("/nonexistent/trace.csv");
    REQUIRE_FALSE(t.has_value());
    CHECK_THAT(t.error().message, Catch::Contains("/nonexistent/trace.csv"));
    CHECK_THAT(t.error().message, Catch::Contains("No such file"));
    CHECK_THAT(t.error().message, Catch::Contains("sim/traces/poisson_for_loop_rate_350.csv")); // where the traces are
}

TEST_CASE("a trace window starts at its first request at or after the start, shifted to 0", "[trace]") {
    auto t = parse_trace("time\tquery\n0.5\t/dummy.php/?n=1\n1.0\t/dummy.php/?n=2\n1.0\t/dummy.php/?n=3\n2.5\t/dummy.php/?n=4\n",
                         "w.csv");
    REQUIRE(t.has_value());
    auto w = trace_window(*t, 1.0);
    REQUIRE(w.has_value());
    REQUIRE(w->size() == 3); // both requests at exactly 1.0 s are kept
    CHECK(w->at(0).n == 2);
    CHECK(w->at(0).time_s == 0.0);
    CHECK(w->at(2).time_s == 1.5);
    auto whole = trace_window(*t, 0.0);
    REQUIRE(whole.has_value());
    CHECK(whole->size() == 4);
    CHECK(whole->front().time_s == 0.5); // start 0 leaves the times as they are
}

TEST_CASE("a trace window past the last request or before 0 says so", "[trace][bad-input]") {
    auto t = parse_trace("time\tquery\n0.5\t/dummy.php/?n=1\n", "w.csv");
    REQUIRE(t.has_value());
    auto late = trace_window(*t, 0.6);
    REQUIRE_FALSE(late.has_value());
    CHECK_THAT(late.error().message, Catch::Contains("past its last request") && Catch::Contains("start earlier"));
    auto negative = trace_window(*t, -1.0);
    REQUIRE_FALSE(negative.has_value());
    CHECK_THAT(negative.error().message, Catch::Contains(">= 0"));
}
