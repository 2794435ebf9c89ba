// Alias tables: the table's implied probabilities equal the weights' shares (to float
// rounding), zero weights are never drawn, and samples pass a chi-square test.
#include <marllb/shm.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

namespace {

// Probability of drawing each index from the table: prob[i]/n kept, (1-prob[j])/n moved to alias[j].
std::vector<double> implied_shares(const marllb_alias_entry_t *t, std::uint32_t n) {
    std::vector<double> share(n, 0.0);
    for (std::uint32_t j = 0; j < n; ++j) {
        share[j] += double(t[j].prob) / n;
        share[t[j].alias] += (1.0 - double(t[j].prob)) / n;
    }
    return share;
}

} // namespace

TEST_CASE("alias build: implied shares equal weight shares for random weight sets", "[alias]") {
    std::mt19937_64 rng(11);
    marllb_alias_entry_t table[MARLLB_MAX_AS];
    for (int iter = 0; iter < 5000; ++iter) {
        const std::uint32_t n = 1 + std::uint32_t(rng() % 64);
        float w[MARLLB_MAX_AS] = {};
        double sum = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            w[i] = (rng() % 5 == 0) ? 0.0f : float(std::ldexp(double(rng() % 1000 + 1), int(rng() % 20) - 10));
            sum += w[i];
        }
        if (sum == 0) w[0] = 1, sum = 1;
        REQUIRE(marllb_alias_build(w, n, table) == MARLLB_OK);
        const auto share = implied_shares(table, n);
        for (std::uint32_t i = 0; i < n; ++i) {
            REQUIRE(table[i].alias < n);
            if (w[i] == 0) REQUIRE(share[i] == 0.0); // never drawn, exactly
            else REQUIRE(share[i] == Approx(w[i] / sum).epsilon(1e-6).margin(1e-7));
        }
    }
}

TEST_CASE("alias build rejects what cannot be sampled", "[alias]") {
    marllb_alias_entry_t table[MARLLB_MAX_AS];
    float zeros[4] = {0, 0, 0, 0};
    float negative[2] = {1, -1};
    float nan[2] = {1, std::nanf("")};
    float ok[2] = {1, 2};
    CHECK(marllb_alias_build(zeros, 4, table) == MARLLB_E_INVAL);
    CHECK(marllb_alias_build(negative, 2, table) == MARLLB_E_INVAL);
    CHECK(marllb_alias_build(nan, 2, table) == MARLLB_E_INVAL);
    CHECK(marllb_alias_build(ok, 0, table) == MARLLB_E_INVAL);
    CHECK(marllb_alias_build(ok, 65, table) == MARLLB_E_INVAL);
    CHECK(marllb_alias_build(ok, 2, table) == MARLLB_OK);
}

TEST_CASE("alias sampling matches the weights: chi-square at p = 0.001", "[alias]") {
    // MARLLB's 7-server set, weighted by capacity, with one server drained (weight 0).
    const float w[7] = {1, 1, 1, 0, 2, 2, 2};
    marllb_alias_entry_t table[MARLLB_MAX_AS];
    REQUIRE(marllb_alias_build(w, 7, table) == MARLLB_OK);
    constexpr int kDraws = 1'000'000;
    std::vector<long> counts(7, 0);
    std::uint64_t state = 12345;
    for (int i = 0; i < kDraws; ++i) ++counts[marllb_alias_sample(table, 7, marllb_rand64(&state))];
    CHECK(counts[3] == 0);
    double chi2 = 0;
    for (int i = 0; i < 7; ++i) {
        if (w[i] == 0) continue;
        const double expect = kDraws * w[i] / 9.0;
        chi2 += (counts[i] - expect) * (counts[i] - expect) / expect;
    }
    // 6 non-zero cells: 5 degrees of freedom; the 0.999 quantile is 20.52.
    CHECK(chi2 < 20.52);
}
