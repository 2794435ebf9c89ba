// The percentile definition on cases computed by hand (h = q (n - 1), interpolate between
// x[floor h] and the next value); numpy.percentile gives the same numbers.
#include "marllb/measure/percentile.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>

using marllb::measure::quantile;
using marllb::measure::quantile_sorted;
using marllb::measure::summarize;

TEST_CASE("quantile interpolates between the two nearest order statistics", "[percentile]") {
    const std::vector<double> four{4, 1, 3, 2}; // sorted: 1 2 3 4
    CHECK(quantile(four, 0.0) == 1.0);          // h = 0
    CHECK(quantile(four, 0.5) == 2.5);          // h = 1.5: 2 + 0.5 (3 - 2)
    CHECK(quantile(four, 0.9) == Approx(3.7));  // h = 2.7: 3 + 0.7 (4 - 3)
    CHECK(quantile(four, 1.0) == 4.0);          // h = 3: the maximum
    // numpy.percentile([15, 20, 35, 40, 50], 40) = 29: h = 1.6, 20 + 0.6 (35 - 20)
    CHECK(quantile(std::vector<int>{50, 15, 40, 20, 35}, 0.4) == Approx(29.0));
    // numpy.percentile([15, 20, 35, 40, 50], 90) = 46: h = 3.6, 40 + 0.6 (50 - 40)
    CHECK(quantile(std::vector<int>{50, 15, 40, 20, 35}, 0.9) == Approx(46.0));
}

TEST_CASE("quantile of one value, of ties, and of no data", "[percentile]") {
    CHECK(quantile(std::vector<double>{7}, 0.99) == 7.0);
    CHECK(quantile(std::vector<double>{5, 5, 5, 9}, 0.5) == 5.0); // h = 1.5 between 5 and 5
    CHECK(quantile(std::vector<double>{}, 0.5) == 0.0);
}

TEST_CASE("quantile refuses a q outside [0, 1] and says what q means", "[percentile][bad-input]") {
    CHECK_THROWS_WITH(quantile(std::vector<double>{1, 2}, 99.0), Catch::Contains("outside [0, 1]") && Catch::Contains("0.99"));
    CHECK_THROWS_AS(quantile(std::vector<double>{1, 2}, -0.1), std::domain_error);
    CHECK_THROWS_AS(quantile_sorted(std::vector<double>{1, 2}, 1.5), std::domain_error);
}

TEST_CASE("summarize: count, p50 .. p99.9 and max of 1..1000 by hand", "[percentile]") {
    std::vector<double> v;
    for (int i = 1000; i >= 1; --i) v.push_back(i); // descending: summarize sorts
    const auto s = summarize(v);
    CHECK(s.count == 1000);
    CHECK(s.p50 == Approx(500.5));   // h = 499.5:   500 + 0.5
    CHECK(s.p90 == Approx(900.1));   // h = 899.1:   900 + 0.1
    CHECK(s.p99 == Approx(990.01));  // h = 989.01:  990 + 0.01
    CHECK(s.p999 == Approx(999.001)); // h = 998.001: 999 + 0.001
    CHECK(s.max == 1000.0);
    CHECK(summarize(std::vector<double>{}).count == 0);
}

TEST_CASE("summarize and quantile agree on integer samples of any type", "[percentile]") {
    std::vector<std::uint64_t> v;
    std::uint64_t x = 12345;
    for (int i = 0; i < 777; ++i) v.push_back((x = x * 6364136223846793005ULL + 1442695040888963407ULL) >> 40);
    const auto s = summarize(v);
    CHECK(s.count == 777);
    CHECK(s.p50 == quantile(v, 0.5));
    CHECK(s.p90 == quantile(v, 0.9));
    CHECK(s.p99 == quantile(v, 0.99));
    CHECK(s.p999 == quantile(v, 0.999));
    CHECK(s.max == quantile(v, 1.0));
}
