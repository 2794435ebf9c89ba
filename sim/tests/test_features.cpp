// The five features per metric against a plain reference (sort, sums, pow per sample) on
// random samples with known timestamps; the cached path (features recomputed only when a
// sample arrived) must give what a fresh computation gives.
#include "features.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace marllb::sim;

namespace {
struct Sample { double v; std::uint64_t t; };

double ref_p90(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const double pos = 0.9 * double(v.size() - 1);
    const std::size_t lo = std::size_t(pos);
    return lo + 1 < v.size() ? v[lo] + (pos - double(lo)) * (v[lo + 1] - v[lo]) : v[lo];
}

Features reference(const std::vector<Sample> &s, std::uint64_t now, const FeatureOptions &o) {
    const double n = double(s.size());
    double sum = 0, sum_w = 0, sum_wv = 0;
    std::vector<double> vals, decayed;
    for (auto &x : s) {
        const double w = std::pow(o.gamma, (double(now) - double(x.t)) / 1e9);
        sum += x.v;
        sum_w += w;
        sum_wv += w * x.v;
        vals.push_back(x.v);
        decayed.push_back(w * x.v);
    }
    const double mean = sum / n;
    double ss = 0;
    for (auto &x : s) ss += (x.v - mean) * (x.v - mean);
    double mean_d = sum_wv / n, p90_d = ref_p90(decayed);
    if (o.normalise_decay) { mean_d /= sum_w / n; p90_d /= sum_w / n; }
    return {float(mean), float(ref_p90(vals)), float(std::sqrt(ss / n)), float(mean_d), float(p90_d)};
}

void check_same(const Features &got, const Features &want) {
    for (unsigned i = 0; i < MARLLB_NUM_FEATURES; ++i) {
        INFO("feature " << i);
        CHECK(got[i] == Approx(want[i]).epsilon(2e-6).margin(1e-12));
    }
}
} // namespace

TEST_CASE("features equal the reference on random samples, both decay variants", "[features]") {
    std::mt19937_64 rng(42);
    std::exponential_distribution<double> value(20.0);
    for (bool norm : {false, true}) {
        for (unsigned n : {1u, 2u, 7u, 128u}) {
            FeatureOptions opt{0.9, norm};
            Reservoir r;
            std::vector<Sample> s;
            std::uint64_t t = 5'000'000'000ull;
            for (unsigned i = 0; i < n; ++i) {
                t += rng() % 50'000'000ull;
                s.push_back({double(float(value(rng))), t});
                r.add(float(s.back().v), t, ReservoirMode::random_replacement, rng(), opt);
            }
            const std::uint64_t now = t + 1'500'000'000ull;
            INFO("n " << n << " normalised " << norm);
            check_same(r.features(now, opt), reference(s, now, opt));
            // Cached: a later publish time with no new sample still decays exactly.
            check_same(r.features(now + 3'000'000'000ull, opt), reference(s, now + 3'000'000'000ull, opt));
        }
    }
}

TEST_CASE("decay with known timestamps: one sample one second old weighs gamma", "[features]") {
    Reservoir r;
    r.add(2.0f, 10'000'000'000ull, ReservoirMode::random_replacement, 0, {});
    const Features f = r.features(11'000'000'000ull, {});
    CHECK(f[0] == 2.0f);
    CHECK(f[2] == 0.0f);
    CHECK(f[3] == Approx(1.8));
    CHECK(f[4] == Approx(1.8));
    const Features g = r.features(13'000'000'000ull, FeatureOptions{0.9, true});
    CHECK(g[3] == Approx(2.0)); // normalised: equal values decay to themselves
}

TEST_CASE("a full reservoir replaces samples and the features follow the samples it holds", "[features]") {
    std::mt19937_64 rng(7);
    for (auto mode : {ReservoirMode::random_replacement, ReservoirMode::algorithm_r}) {
        Reservoir r;
        std::uint64_t t = 1'000'000'000ull;
        for (unsigned i = 0; i < 1000; ++i) {
            r.add(float(i % 97) * 0.01f, t += 1'000'000, mode, rng(), {});
            if (i % 100 == 0) (void)r.features(t, {}); // interleaved publishes exercise the cache
        }
        REQUIRE(r.count() == Reservoir::kCap);
        CHECK(r.seen() == 1000);
        std::vector<Sample> held;
        for (unsigned i = 0; i < Reservoir::kCap; ++i) held.push_back({r.raw().values[i], r.raw().timestamps[i]});
        const std::uint64_t now = t + 100'000'000;
        check_same(r.features(now, {}), reference(held, now, {}));
    }
}

TEST_CASE("Algorithm R keeps early and late samples alike, random replacement favours recent", "[features]") {
    // After 10 x 128 samples, Algorithm R holds each with probability 1/10: about 1/10 of the
    // reservoir comes from the first tenth. Random replacement keeps almost none of them.
    std::mt19937_64 rng(3);
    Reservoir ar, rr;
    const unsigned total = 1280;
    for (unsigned i = 0; i < total; ++i) {
        ar.add(float(i), i + 1, ReservoirMode::algorithm_r, rng(), {});
        rr.add(float(i), i + 1, ReservoirMode::random_replacement, rng(), {});
    }
    auto early = [&](const Reservoir &r) {
        unsigned k = 0;
        for (unsigned i = 0; i < Reservoir::kCap; ++i) k += r.raw().values[i] < float(total / 10);
        return k;
    };
    CHECK(early(ar) >= 4);
    CHECK(early(ar) <= 25);
    CHECK(early(rr) <= 2);
}

TEST_CASE("running sums and top sets match a from-scratch reference through 10^5 replacements", "[features]") {
    // Random values (some tied), random publish moments, epochs renewed as the LB does: the
    // incremental path must agree with the reference over whatever the reservoir holds.
    std::mt19937_64 rng(99);
    std::uniform_int_distribution<int> coarse(1, 40);
    std::exponential_distribution<double> fine(10.0);
    for (auto mode : {ReservoirMode::random_replacement, ReservoirMode::algorithm_r}) {
        for (bool norm : {false, true}) {
            const FeatureOptions opt{0.9, norm};
            Reservoir r;
            std::uint64_t t = 1'000'000'000ull;
            for (unsigned i = 0; i < 25'000; ++i) {
                const float v = (i % 3 == 0) ? float(coarse(rng)) * 0.005f : float(fine(rng));
                r.add(v, t += rng() % 20'000'000ull, mode, rng(), opt);
                if (rng() % 53 == 0) {
                    (void)r.renew_epoch_if_old(t, opt);
                    std::vector<Sample> held;
                    for (unsigned k = 0; k < r.count(); ++k) held.push_back({r.raw().values[k], r.raw().timestamps[k]});
                    INFO("add " << i << " mode " << int(mode) << " normalised " << norm);
                    check_same(r.features(t + 1'000'000, opt), reference(held, t + 1'000'000, opt));
                }
            }
        }
    }
}

TEST_CASE("features settled at publish after 1 to 300 samples equal the reference, in both settle paths", "[features]") {
    // Samples only mark their slot; a publish settles the marked slots one by one (few) or by
    // a rebuild (many). Gaps on both sides of the switch, slots rewritten several times per gap.
    std::mt19937_64 rng(7);
    std::exponential_distribution<double> value(5.0);
    for (auto mode : {ReservoirMode::random_replacement, ReservoirMode::algorithm_r}) {
        for (bool zero_slots : {false, true}) {
            const FeatureOptions opt{0.9, false};
            Reservoir r(nullptr, zero_slots);
            std::uint64_t t = 2'000'000'000ull;
            for (unsigned gap : {1u, 3u, 24u, 25u, 300u, 2u, 130u, 1u, 1u, 60u, 7u, 500u, 24u, 26u, 5u}) {
                for (unsigned i = 0; i < gap; ++i) r.add(float(value(rng)), t += rng() % 5'000'000ull, mode, rng(), opt);
                std::vector<Sample> held;
                for (unsigned k = 0; k < r.count(); ++k) held.push_back({r.raw().values[k], r.raw().timestamps[k]});
                INFO("gap " << gap << " mode " << int(mode) << " zero slots " << zero_slots);
                check_same(r.features(t + 3'000'000, opt), reference(held, t + 3'000'000, opt));
            }
        }
    }
}

TEST_CASE("random add / publish / epoch / gamma sequences: mean, p90 and both decayed features equal the reference", "[features]") {
    // Differential: bursts below and above the rebuild switch, heavy ties, values over 40
    // octaves, epochs renewed early and late, gamma changed between publishes, 30 s gaps,
    // both reservoir modes, with and without zero slots and normalisation.
    unsigned compared = 0;
    for (unsigned seed = 0; seed < 96; ++seed) {
        std::mt19937_64 rng(seed);
        const auto mode = (seed & 1) ? ReservoirMode::algorithm_r : ReservoirMode::random_replacement;
        const bool zero = seed & 2, norm = seed & 4;
        const unsigned kind = (seed >> 3) % 4;
        Reservoir r(nullptr, zero);
        FeatureOptions opt{0.9, norm};
        std::uint64_t t = 1'000'000'000ull + rng() % 1000;
        for (unsigned step = 0; step < 1500; ++step) {
            const unsigned op = unsigned(rng() % 100);
            if (op < 80) {
                double v;
                if (kind == 0) v = double(rng() % 5) * 0.25;
                else if (kind == 1) v = std::ldexp(1.0, int(rng() % 40) - 20);
                else if (kind == 2) v = double(rng() % 2);
                else v = double(float(std::exponential_distribution<double>(10)(rng)));
                const unsigned burst = rng() % 10 == 0 ? unsigned(rng() % 60) : 1u;
                for (unsigned b = 0; b < burst; ++b) r.add(float(v), t += rng() % 3'000'000ull, mode, rng(), opt);
            } else if (op < 85) {
                (void)r.renew_epoch_if_old(t + rng() % 40'000'000'000ull, opt);
            } else if (op < 88) {
                opt.gamma = rng() % 2 ? 0.9 : 0.5 + double(rng() % 50) / 100.0;
            } else if (op < 90) {
                t += 31'000'000'000ull;
            } else if (r.count() > 0) {
                std::vector<Sample> held;
                for (unsigned k = 0; k < r.count(); ++k) held.push_back({r.raw().values[k], r.raw().timestamps[k]});
                const std::uint64_t now = t + rng() % 2'000'000'000ull;
                const Features got = r.features(now, opt), want = reference(held, now, opt);
                INFO("seed " << seed << " step " << step);
                for (unsigned i : {0u, 1u, 3u, 4u}) { // the std has its own test below
                    INFO("feature " << i);
                    REQUIRE(got[i] == Approx(want[i]).epsilon(2e-6).margin(1e-12));
                }
                ++compared;
            }
        }
    }
    CHECK(compared > 10'000);
}

TEST_CASE("std after a large sample left the reservoir by replacement equals the reference", "[features]") {
    // 127 samples of about 1 ms (1 us apart) and one of 10^4 s; the large one is then replaced
    // by one more ms-sample, a single marked slot settled incrementally. Its square, taken
    // out of the running sum of squares, must not leave its rounding in the std.
    Reservoir r;
    std::vector<Sample> held;
    std::uint64_t t = 1'000'000'000ull;
    for (unsigned i = 0; i < Reservoir::kCap; ++i) {
        const double v = i == 5 ? 1e4 : double(float(0.001 + 1e-6 * double(i)));
        r.add(float(v), t += 1000, ReservoirMode::random_replacement, 0, {});
        held.push_back({double(float(v)), t});
    }
    check_same(r.features(t, {}), reference(held, t, {}));
    const double v = double(float(0.0011));
    r.add(float(v), t += 1000, ReservoirMode::random_replacement, 5, {}); // slot 5 = 5 % 128
    held[5] = {v, t};
    REQUIRE(r.raw().values[5] == float(v));
    check_same(r.features(t, {}), reference(held, t, {}));
}
