// Action validation: each invalid field is rejected with its own reason; a randomized test
// corrupts valid actions and checks that nothing an LB could misuse gets through.
#include "../src/internal.hpp"
#include "support/process.hpp"

#include <marllb/measure/payload.hpp>
#include <marllb/shm.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include <fcntl.h>
#include <unistd.h>

using namespace marllb::shm;
using marllb::measure::fill_action;

namespace {
marllb_msg_in_t valid(std::uint64_t seq = 7, std::uint32_t n = 8) {
    marllb_msg_in_t a;
    fill_action(a, seq, n);
    return a;
}
constexpr std::uint64_t kNewest = 10;
} // namespace

TEST_CASE("a well-formed action passes", "[action]") {
    for (std::uint32_t n : {1u, 2u, 7u, 63u, 64u}) CHECK(validate_action(valid(7, n), kNewest) == MARLLB_ACTION_OK);
}

TEST_CASE("each invalid field is rejected with its reason", "[action]") {
    auto a = valid();
    SECTION("sequence 0") { a.sequence_id = 0; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_SEQ_ZERO); }
    SECTION("sequence from the future") { a.sequence_id = kNewest + 1; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_SEQ_FROM_FUTURE); }
    SECTION("num_servers 0") { a.num_servers = 0; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_NUM_SERVERS); }
    SECTION("num_servers 65") { a.num_servers = 65; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_NUM_SERVERS); }
    SECTION("NaN weight") { a.weights[3] = std::numeric_limits<float>::quiet_NaN(); CHECK(validate_action(a, kNewest) == MARLLB_ACTION_WEIGHT_NOT_FINITE); }
    SECTION("infinite weight") { a.weights[0] = std::numeric_limits<float>::infinity(); CHECK(validate_action(a, kNewest) == MARLLB_ACTION_WEIGHT_NOT_FINITE); }
    SECTION("negative weight") { a.weights[1] = -1.0f; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_WEIGHT_NEGATIVE); }
    SECTION("weight beyond num_servers") { a.weights[8] = 1.0f; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_WEIGHT_BEYOND_N); }
    SECTION("-0 weight beyond num_servers") { a.weights[9] = -0.0f; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_WEIGHT_BEYOND_N); }
    SECTION("reserved not 0") { a.reserved = 1; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_RESERVED_NONZERO); }
    SECTION("NaN alias probability beyond num_servers") { a.alias_table[8].prob = std::nanf(""); CHECK(validate_action(a, kNewest) == MARLLB_ACTION_ALIAS_BEYOND_N); }
    SECTION("garbage alias entry beyond num_servers") { a.alias_table[63] = {0.5f, 1000}; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_ALIAS_BEYOND_N); }
    SECTION("-0 alias probability beyond num_servers") { a.alias_table[20].prob = -0.0f; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_ALIAS_BEYOND_N); }
    SECTION("all weights zero") {
        for (auto &w : a.weights) w = 0;
        CHECK(validate_action(a, kNewest) == MARLLB_ACTION_WEIGHTS_ALL_ZERO);
    }
    SECTION("alias probability above 1") { a.alias_table[2].prob = 1.5f; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_ALIAS_PROB_RANGE); }
    SECTION("alias probability NaN") { a.alias_table[2].prob = std::nanf(""); CHECK(validate_action(a, kNewest) == MARLLB_ACTION_ALIAS_PROB_RANGE); }
    SECTION("alias probability negative") { a.alias_table[0].prob = -0.1f; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_ALIAS_PROB_RANGE); }
    SECTION("alias index out of range") { a.alias_table[5].alias = 8; CHECK(validate_action(a, kNewest) == MARLLB_ACTION_ALIAS_INDEX_RANGE); }
    SECTION("alias table built for other weights") {
        a.weights[0] *= 3;
        CHECK(validate_action(a, kNewest) == MARLLB_ACTION_ALIAS_MISMATCH);
    }
    SECTION("alias table that draws a zero-weight server") {
        float w[2] = {1, 0};
        a = valid();
        a.num_servers = 2;
        for (auto &x : a.weights) x = 0;
        for (auto &e : a.alias_table) e = {0.0f, 0};
        a.weights[0] = w[0];
        a.alias_table[0] = {1.0f, 0};
        a.alias_table[1] = {0.001f, 0}; // server 1 has weight 0 but would be drawn 0.05 %
        CHECK(validate_action(a, kNewest) == MARLLB_ACTION_ALIAS_MISMATCH);
        a.alias_table[1] = {0.0f, 0};
        CHECK(validate_action(a, kNewest) == MARLLB_ACTION_OK);
    }
    CHECK(std::string(describe(validate_action(a, kNewest))).size() > 1);
}

TEST_CASE("randomized: corrupted actions never pass with an unsafe field", "[action][random]") {
    std::mt19937_64 rng(7);
    int rejected = 0;
    for (int iter = 0; iter < 200000; ++iter) {
        auto a = valid(1 + rng() % kNewest, 1 + std::uint32_t(rng() % 64));
        auto *bytes = reinterpret_cast<unsigned char *>(&a);
        const int flips = 1 + int(rng() % 4);
        for (int k = 0; k < flips; ++k) bytes[rng() % sizeof a] ^= std::uint8_t(1u << (rng() % 8));
        const auto r = validate_action(a, kNewest);
        if (r != MARLLB_ACTION_OK) {
            ++rejected;
            continue;
        }
        // Accepted: everything the data plane relies on must hold.
        REQUIRE(a.sequence_id >= 1);
        REQUIRE(a.sequence_id <= kNewest);
        REQUIRE(a.num_servers >= 1);
        REQUIRE(a.num_servers <= 64);
        double sum = 0;
        for (std::uint32_t i = 0; i < 64; ++i) {
            REQUIRE(std::isfinite(a.weights[i]));
            REQUIRE(a.weights[i] >= 0);
            if (i >= a.num_servers) {
                std::uint32_t wbits;
                std::uint64_t ebits;
                std::memcpy(&wbits, &a.weights[i], 4);
                std::memcpy(&ebits, &a.alias_table[i], 8);
                REQUIRE(wbits == 0); // every bit, -0.0 included
                REQUIRE(ebits == 0);
            }
            sum += a.weights[i];
        }
        REQUIRE(a.reserved == 0);
        REQUIRE(sum > 0);
        for (std::uint32_t i = 0; i < a.num_servers; ++i) {
            REQUIRE(a.alias_table[i].alias < a.num_servers);
            REQUIRE(a.alias_table[i].prob >= 0);
            REQUIRE(a.alias_table[i].prob <= 1);
        }
    }
    CHECK(rejected > 100000); // most single-bit corruptions of weights or table are caught
}

namespace {
// The checks as the layout document states them, one field at a time, each category in the
// order the reasons are reported: the reference the branch-free validate_action must equal.
RejectReason reference_verdict(const marllb_msg_in_t &a, std::uint64_t newest) {
    if (a.sequence_id == 0) return MARLLB_ACTION_SEQ_ZERO;
    if (a.sequence_id > newest) return MARLLB_ACTION_SEQ_FROM_FUTURE;
    const std::uint32_t n = a.num_servers;
    if (n == 0 || n > 64) return MARLLB_ACTION_NUM_SERVERS;
    if (a.reserved != 0) return MARLLB_ACTION_RESERVED_NONZERO;
    for (const float w : a.weights)
        if (!std::isfinite(w)) return MARLLB_ACTION_WEIGHT_NOT_FINITE;
    for (const float w : a.weights)
        if (w < 0) return MARLLB_ACTION_WEIGHT_NEGATIVE;
    for (std::uint32_t i = n; i < 64; ++i)
        if (std::signbit(a.weights[i]) || a.weights[i] != 0) return MARLLB_ACTION_WEIGHT_BEYOND_N;
    double sum = 0;
    for (const float w : a.weights) sum += w;
    if (sum == 0) return MARLLB_ACTION_WEIGHTS_ALL_ZERO;
    for (std::uint32_t i = n; i < 64; ++i)
        if (std::signbit(a.alias_table[i].prob) || a.alias_table[i].prob != 0 || a.alias_table[i].alias != 0)
            return MARLLB_ACTION_ALIAS_BEYOND_N;
    for (std::uint32_t i = 0; i < n; ++i)
        if (!(a.alias_table[i].prob >= 0 && a.alias_table[i].prob <= 1)) return MARLLB_ACTION_ALIAS_PROB_RANGE;
    for (std::uint32_t i = 0; i < n; ++i)
        if (a.alias_table[i].alias >= n) return MARLLB_ACTION_ALIAS_INDEX_RANGE;
    double share[64] = {};
    for (std::uint32_t i = 0; i < n; ++i) {
        share[i] += a.alias_table[i].prob;
        share[a.alias_table[i].alias] += 1.0 - a.alias_table[i].prob;
    }
    for (std::uint32_t i = 0; i < n; ++i) {
        const double want = a.weights[i] * n / sum;
        if (a.weights[i] == 0 ? share[i] != 0 : std::fabs(share[i] - want) > 1e-4 * n)
            return MARLLB_ACTION_ALIAS_MISMATCH;
    }
    return MARLLB_ACTION_OK;
}
} // namespace

TEST_CASE("randomized: the branch-free checks give the reference's verdict on every corruption", "[action][random]") {
    std::mt19937_64 rng(11);
    int agreed_rejections = 0;
    for (int iter = 0; iter < 200000; ++iter) {
        auto a = valid(1 + rng() % kNewest, 1 + std::uint32_t(rng() % 64));
        auto *bytes = reinterpret_cast<unsigned char *>(&a);
        const int flips = int(rng() % 4); // 0: the valid action itself
        for (int k = 0; k < flips; ++k) bytes[rng() % sizeof a] ^= std::uint8_t(1u << (rng() % 8));
        if (rng() % 8 == 0) a.weights[rng() % 64] = -0.0f; // junk beyond n, or a zero weight
        if (rng() % 16 == 0) a.alias_table[rng() % std::max(1u, a.num_servers) % 64].alias = std::uint32_t(rng() % 70);
        const RejectReason want = reference_verdict(a, kNewest);
        INFO("iteration " << iter << ": reference says " << describe(want));
        REQUIRE(validate_action(a, kNewest) == want);
        agreed_rejections += want != MARLLB_ACTION_OK;
    }
    CHECK(agreed_rejections > 50000); // the corruptions reach the checks, not only valid actions
}

namespace {
// Weights an agent might send: 1 to 64 servers, some at 0, magnitudes from 1e-6 to 1e6, and
// now and then one server far above the rest (a Vose table then aliases most entries to it).
marllb_msg_in_t built_from_random_weights(std::mt19937_64 &rng) {
    marllb_msg_in_t a{};
    a.sequence_id = 1;
    a.num_servers = 1 + std::uint32_t(rng() % 64);
    const double magnitude = std::pow(10.0, double(rng() % 13) - 6.0);
    for (std::uint32_t i = 0; i < a.num_servers; ++i)
        a.weights[i] = rng() % 5 == 0 ? 0.0f : float(magnitude * double(1 + rng() % 1000) / 1000.0);
    if (rng() % 4 == 0) a.weights[rng() % a.num_servers] = float(magnitude * 500);
    if (std::all_of(a.weights, a.weights + a.num_servers, [](float w) { return w == 0; })) a.weights[0] = 1;
    REQUIRE(marllb_alias_build(a.weights, a.num_servers, a.alias_table) == MARLLB_OK);
    return a;
}

struct Survey {
    int vouched = 0, rejected = 0;
    int margin = 0;      // shares moved to about the tolerance that the exact checks alone accepted
    int other_copy = 0;  // verdicts of the fast path's other compiled copy that differ
};

// The fast path's compiled copies this CPU can run: the baseline's always, AVX2's where it has it.
std::vector<detail::FastPath> fast_paths() {
    std::vector<detail::FastPath> v{detail::FastPath::baseline};
    if (detail::action_fast_path_has_avx2()) v.push_back(detail::FastPath::avx2);
    return v;
}
const char *name(detail::FastPath p) { return p == detail::FastPath::avx2 ? "avx2" : "baseline"; }

// Actions near every edge the fast path has, each judged by both halves of the checks: the
// fast path must never vouch for one that the exact checks reject.
Survey survey_fast_path(std::uint64_t seed, int cases, detail::FastPath which) {
    const detail::FastPath other =
        which == detail::FastPath::avx2 ? detail::FastPath::baseline : detail::FastPath::avx2;
    const bool compare = detail::action_fast_path_has_avx2();
    std::mt19937_64 rng(seed);
    Survey out;
    for (int iter = 0; iter < cases; ++iter) {
        auto a = built_from_random_weights(rng);
        const std::uint32_t n = a.num_servers;
        switch (iter % 5) {
        case 0: { // one probability moved by about the tolerance (mass from its alias to itself)
            auto &e = a.alias_table[rng() % n];
            const double by = 1e-4 * n * (0.9 + 0.2 * double(rng() % 1000) / 1000.0);
            e.prob = float(std::clamp(double(e.prob) + (e.prob > 0.5f ? -by : by), 0.0, 1.0));
            break;
        }
        case 1: { // one weight off by about the tolerance of its share
            const std::uint32_t i = std::uint32_t(rng() % n);
            const double share = double(a.weights[i]) * n / std::accumulate(a.weights, a.weights + n, 0.0);
            if (share > 0) a.weights[i] *= float(1 + 1e-4 * n / share * (0.9 + 0.2 * double(rng() % 1000) / 1000.0));
            break;
        }
        case 2: { // a zero-weight server kept with a probability of any size, or a bit flipped
            const std::uint32_t i = std::uint32_t(rng() % n);
            if (a.weights[i] == 0) a.alias_table[i].prob = std::ldexp(1.0f, -int(rng() % 150));
            else reinterpret_cast<unsigned char *>(&a)[16 + rng() % (sizeof a - 16)] ^= std::uint8_t(1u << (rng() % 8));
            break;
        }
        case 3: { // a zero weight made subnormal, its server kept with a small probability
            const std::uint32_t i = std::uint32_t(rng() % n);
            if (a.weights[i] == 0) {
                a.weights[i] = std::ldexp(1.0f, -127 - int(rng() % 23));
                a.alias_table[i].prob = std::ldexp(1.0f, -int(rng() % 30));
            }
            break;
        }
        default: break; // as built
        }
        const bool fast = detail::action_fast_path_accepts(a, which);
        const RejectReason exact = detail::action_body_verdict(a);
        INFO("case " << iter << ", num_servers " << n << ", the " << name(which)
                     << " fast path: the exact checks say " << describe(exact));
        REQUIRE((!fast || exact == MARLLB_ACTION_OK));
        out.other_copy += compare && detail::action_fast_path_accepts(a, other) != fast;
        out.vouched += fast;
        out.margin += iter % 5 < 2 && !fast && exact == MARLLB_ACTION_OK;
        out.rejected += exact != MARLLB_ACTION_OK;
    }
    return out;
}
} // namespace

// The fast path answers OK without the exact checks; every action it vouches for must be one
// they accept. Its margin sits between the two: shares moved to about the tolerance, some
// inside the margin (accepted by the exact checks alone), some over (rejected by both).
// Each compiled copy on its own; and the two must agree but for the last rounding of the
// weights' sum, which they add in another order (a handful of shares at the margin's edge).
TEST_CASE("the fast path vouches only for actions that the exact checks accept", "[action][random]") {
    for (const detail::FastPath which : fast_paths()) {
        const Survey s = survey_fast_path(29, 100000, which);
        INFO("the " << name(which) << " fast path: vouched " << s.vouched << ", in the margin " << s.margin
                    << ", rejected " << s.rejected << ", the other copy differs on " << s.other_copy);
        CHECK(s.vouched > 40000);
        CHECK(s.margin > 1000); // the margin is reached from both sides
        CHECK(s.rejected > 10000);
        CHECK(s.other_copy <= 10);
    }
}

// AVX2's copy runs exactly where the CPU has AVX2 (validate_action takes it there).
TEST_CASE("the AVX2 copy of the fast path runs on a CPU that has AVX2, and only there", "[action]") {
    std::mt19937_64 rng(41);
    const auto a = built_from_random_weights(rng);
    REQUIRE(detail::action_fast_path_accepts(a, detail::FastPath::baseline));
    CHECK(detail::action_fast_path_accepts(a, detail::FastPath::avx2) == detail::action_fast_path_has_avx2());
}

#if defined(__x86_64__)
// A thread with "denormals are zero" set (MXCSR.DAZ, which some libraries turn on) makes the
// exact checks read a subnormal weight as 0 and hold its server to a zero share; the fast path
// must leave such weights to them. A server with weight 2^-149 kept with probability 2^-20
// is accepted with DAZ off and rejected with it on, by both halves together.
TEST_CASE("with denormals read as zero the fast path still vouches only for what the exact checks accept",
          "[action][random]") {
    marllb_msg_in_t a{};
    a.sequence_id = 1;
    a.num_servers = 2;
    a.weights[0] = 1.0f;
    a.weights[1] = std::numeric_limits<float>::denorm_min();
    a.alias_table[0] = {1.0f, 0};
    a.alias_table[1] = {std::ldexp(1.0f, -20), 0};
    CHECK(validate_action(a, 1) == MARLLB_ACTION_OK);
    struct Daz { // on for this scope, restored however it is left
        unsigned saved = __builtin_ia32_stmxcsr();
        Daz() { __builtin_ia32_ldmxcsr(saved | 0x0040); }
        ~Daz() { __builtin_ia32_ldmxcsr(saved); }
    };
    RejectReason with_daz;
    Survey s;
    {
        const Daz daz;
        with_daz = validate_action(a, 1);
        for (const detail::FastPath which : fast_paths()) {
            s = survey_fast_path(37, 50000, which);
            INFO("the " << name(which) << " fast path");
            CHECK(s.vouched > 20000);
        }
    }
    CHECK(with_daz == MARLLB_ACTION_ALIAS_MISMATCH);
}
#endif

// What the fast path is for: the tables an agent sends. Weights of every size and count that
// marllb_alias_build turns into a table take it, -0.0 and sums under 1e-20 aside.
TEST_CASE("the fast path takes every table that marllb_alias_build makes", "[action][random]") {
    std::mt19937_64 rng(31);
    for (int iter = 0; iter < 100000; ++iter) {
        const auto a = built_from_random_weights(rng);
        INFO("iteration " << iter << ", num_servers " << a.num_servers);
        for (const detail::FastPath which : fast_paths()) {
            INFO("the " << name(which) << " fast path");
            REQUIRE(detail::action_fast_path_accepts(a, which));
        }
    }
}

// The fast path adds the weights in f32 lanes; weights near FLT_MAX overflow those sums
// (the exact checks add in double and do not). Such weights go to the exact checks, which
// accept a table built for them and refuse one built for other weights.
TEST_CASE("weights whose f32 sum overflows are judged by the exact checks", "[action]") {
    marllb_msg_in_t a{};
    a.sequence_id = 1;
    a.num_servers = 64;
    for (std::uint32_t i = 0; i < 64; ++i) a.weights[i] = i % 2 ? 3e38f : 1.5e38f;
    REQUIRE(marllb_alias_build(a.weights, 64, a.alias_table) == MARLLB_OK);
    CHECK(validate_action(a, 1) == MARLLB_ACTION_OK);
    for (const detail::FastPath which : fast_paths()) {
        INFO("the " << name(which) << " fast path");
        CHECK_FALSE(detail::action_fast_path_accepts(a, which));
    }
    std::swap(a.weights[0], a.weights[1]); // the table now gives servers 0 and 1 each other's share
    CHECK(validate_action(a, 1) == MARLLB_ACTION_ALIAS_MISMATCH);
}

// What the data plane does with an applied action: draw servers from its alias table. An
// agent's zero-weight servers must never be drawn, whether its table came from the builder or
// was written by hand to smuggle one in (which the LB must reject, keeping the previous one).
TEST_CASE("a zero-weight server is never drawn by the LB after an action is applied", "[action][lb]") {
    const auto name = marllb::test::unique_region("zero_weight");
    auto lbx = LbRegion::create(name);
    REQUIRE(lbx);
    LbRegion &lb = *lbx;
    marllb_msg_out_t m{};
    (void)lb.publish(m);
    (void)lb.publish(m);
    auto agent = AgentRegion::attach(name);
    REQUIRE(agent);

    marllb_msg_in_t a{};
    a.sequence_id = 1;
    a.num_servers = 7;
    const float w[7] = {0, 2, 0, 1, 0, 0, 4};
    std::copy(w, w + 7, a.weights);
    REQUIRE(marllb_alias_build(a.weights, 7, a.alias_table) == MARLLB_OK);
    REQUIRE(agent->write_action(a, 1) == Errc::ok);
    REQUIRE(lb.poll_action().status == MARLLB_POLL_APPLIED);

    auto draws_only_weighted = [&lb, &w] {
        const marllb_msg_in_t *in_force = lb.action();
        REQUIRE(in_force);
        std::uint64_t rng = 12345, counts[7] = {};
        for (int k = 0; k < 1'000'000; ++k)
            ++counts[marllb_alias_sample(in_force->alias_table, in_force->num_servers, marllb_rand64(&rng))];
        for (int s = 0; s < 7; ++s) {
            INFO("server " << s << " weight " << w[s] << " drawn " << counts[s] << " times");
            if (w[s] == 0) CHECK(counts[s] == 0);
            else CHECK(counts[s] > 0);
        }
    };
    draws_only_weighted();

    // A hand-made table that keeps zero-weight server 2 with probability 1 and sends server 1's
    // share there: the LB refuses it and server 2 is still never drawn.
    marllb_msg_in_t smuggled = a;
    smuggled.sequence_id = 2;
    smuggled.alias_table[1] = {0.0f, 2};
    smuggled.alias_table[2] = {1.0f, 2};
    CHECK(validate_action(smuggled, 2) == MARLLB_ACTION_ALIAS_MISMATCH);
    // The API would refuse to write it; a hostile agent writes the slot's bytes itself
    // (seqlock odd, payload, seqlock even and newer), so the LB's own check must catch it.
    const int fd = ::open(("/dev/shm/" + name).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    std::uint64_t lock = 0;
    REQUIRE(pread(fd, &lock, 8, MARLLB_ACTION_OFFSET) == 8);
    const std::uint64_t odd = lock + 1, even = lock + 2;
    REQUIRE(pwrite(fd, &odd, 8, MARLLB_ACTION_OFFSET) == 8);
    REQUIRE(pwrite(fd, &smuggled, sizeof smuggled, MARLLB_ACTION_OFFSET + offsetof(marllb_action_section_t, msg)) ==
            ssize_t(sizeof smuggled));
    REQUIRE(pwrite(fd, &even, 8, MARLLB_ACTION_OFFSET) == 8);
    close(fd);
    const PollResult r = lb.poll_action();
    CHECK(r.status == MARLLB_POLL_REJECTED);
    CHECK(r.reason == MARLLB_ACTION_ALIAS_MISMATCH);
    CHECK(lb.action()->sequence_id == 1);
    draws_only_weighted();
    (void)unlink_region(name);
}
