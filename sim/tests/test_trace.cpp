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
