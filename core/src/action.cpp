// Actions: the checks every action passes before the LB uses it, and the alias table.
#include "internal.hpp"
#include "plant.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace marllb::shm {

namespace {
// How far the alias table's implied share of a server may sit from weight / sum(weights).
// f32 probabilities carry ~6e-8 relative error per entry; 1e-4 leaves room for any sane
// builder and still catches a table built for other weights.
constexpr double kAliasShareTolerance = 1e-4;
} // namespace

static_assert((MARLLB_MAX_AS & (MARLLB_MAX_AS - 1)) == 0, "validate_action masks alias indices with MARLLB_MAX_AS - 1");

namespace {
// The fixed header: sequence, server count and set, reserved word.
RejectReason check_header(const MsgIn &a, std::uint64_t newest_seq, ServerSet set) noexcept {
    if (a.sequence_id == 0) return MARLLB_ACTION_SEQ_ZERO;
    if (a.sequence_id > newest_seq) return MARLLB_ACTION_SEQ_FROM_FUTURE;
    const std::uint32_t n = a.num_servers;
    if (n == 0 || n > MARLLB_MAX_AS) return MARLLB_ACTION_NUM_SERVERS;
    // Before anything is read by index: an action sized for another server set is refused as
    // a whole, whatever its weights (8 weights for 7 servers would send flows to server 7).
    if (set.num_servers != 0 && n != set.num_servers) return MARLLB_ACTION_SERVER_COUNT;
    if (a.sequence_id < set.first_seq) return MARLLB_ACTION_SERVER_SET;
    if (a.reserved != 0) return MARLLB_ACTION_RESERVED_NONZERO;
    return MARLLB_ACTION_OK;
}

// The weights and the alias table, exactly as docs/c-api.md states the checks, with the
// reason of the first category that fails. Runs when surely_acceptable() cannot vouch for an
// action (every rejection, and acceptances within a hair of the share tolerance), so it
// alone decides every verdict: the fast path only saves time.
RejectReason check_body(const MsgIn &a) noexcept {
    const std::uint32_t n = a.num_servers;
    // No branch per server: every check sets a flag, and the reasons are reported afterwards in
    // a fixed order (the order of the enum's table in docs/c-api.md), whichever entry tripped
    // them. No loop exits early, so the compiler vectorises every one but the alias scatter
    // (checked with -fopt-info-vec: 16-byte vectors, the x86-64 baseline).
    //
    // 1. All 64 slots: weights finite and >= 0, and beyond num_servers every bit 0 in weights
    //    and alias entries (the layout's contract: -0.0 and NaN are junk too).
    //    The flags are integers set with bitwise operators: a short-circuit && is control flow,
    //    and control flow keeps a loop from being vectorised.
    std::uint32_t not_finite = 0, negative = 0, beyond_n = 0, alias_beyond_n = 0;
    double sums[4] = {0, 0, 0, 0}; // four chains: a single one is 64 dependent adds
    for (std::uint32_t i = 0; i < MARLLB_MAX_AS; ++i) {
        std::uint32_t wbits;
        std::memcpy(&wbits, &a.weights[i], 4);
        not_finite |= std::uint32_t((wbits & 0x7f800000u) == 0x7f800000u); // exponent all ones
        negative |= std::uint32_t(wbits > 0x80000000u); // sign set and not -0.0 (NaN: above)
        beyond_n |= wbits & -std::uint32_t(i >= n);     // all ones beyond num_servers
    }
    for (std::uint32_t i = 0; i < MARLLB_MAX_AS; i += 4)
        for (std::uint32_t k = 0; k < 4; ++k) sums[k] += double(a.weights[i + k]);
    for (std::uint32_t i = 0; i < MARLLB_MAX_AS; ++i) {
        std::uint32_t pbits;
        std::memcpy(&pbits, &a.alias_table[i].prob, 4);
        alias_beyond_n |= (pbits | a.alias_table[i].alias) & -std::uint32_t(i >= n);
    }
    if (not_finite) return MARLLB_ACTION_WEIGHT_NOT_FINITE;
    if (negative) return MARLLB_ACTION_WEIGHT_NEGATIVE;
    if (beyond_n) return MARLLB_ACTION_WEIGHT_BEYOND_N;
    const double sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
    if (sum == 0) return MARLLB_ACTION_WEIGHTS_ALL_ZERO;
    if (alias_beyond_n) return MARLLB_ACTION_ALIAS_BEYOND_N;
    // 2. The alias table's implied share of each server: its own probability, plus 1 - prob of
    //    every entry that aliases it. The scatter goes to four arrays by entry (summed after):
    //    a Vose table aliases runs of entries to the same server, and one array would make
    //    each add wait for the previous one's store. An index is masked into the arrays before
    //    it is checked (alias & 63 < 64), so a bad one is refused, never written out of bounds.
    //    Every term is >= 0 once the ranges hold, so a share is exactly 0 only if no entry
    //    gives the server any mass, in whatever order the terms are added.
    std::uint32_t prob_range = 0, index_range = 0;
    alignas(64) double scattered[4][MARLLB_MAX_AS] = {};
    for (std::uint32_t i = 0; i < n; ++i) {
        const float p = a.alias_table[i].prob;
        const std::uint32_t to = a.alias_table[i].alias;
        prob_range |= std::uint32_t(!(p >= 0.0f)) | std::uint32_t(!(p <= 1.0f)); // NaN fails too
        index_range |= std::uint32_t(to >= n);
        scattered[i % 4][to & (MARLLB_MAX_AS - 1)] += 1.0 - double(p);
    }
    if (prob_range) return MARLLB_ACTION_ALIAS_PROB_RANGE;
    if (index_range) return MARLLB_ACTION_ALIAS_INDEX_RANGE;
    // 3. The table must draw each server with its weight's share (share[i] / n against
    //    w[i] / sum, compared as share[i] against w[i] * n / sum), and never a zero-weight one:
    //    an exact test, a zero-weight server must get no probability mass at all.
    const double scale = double(n) / sum;
    const double tolerance = kAliasShareTolerance * n;
    std::uint32_t mismatch = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        const double share = double(a.alias_table[i].prob) +
                             ((scattered[0][i] + scattered[1][i]) + (scattered[2][i] + scattered[3][i]));
        const double w = a.weights[i];
        mismatch |= (std::uint32_t(w == 0) & std::uint32_t(share != 0)) |
                    (std::uint32_t(w != 0) & std::uint32_t(std::fabs(share - w * scale) > tolerance));
    }
    return mismatch ? MARLLB_ACTION_ALIAS_MISMATCH : MARLLB_ACTION_OK;
}

// The fast path works on whole vectors of the action: GCC's vector extensions, W servers a
// step. It is compiled twice (below): four a step in 16-byte vectors for the x86-64 baseline
// (SSE2, also NEON's width), and eight a step in 32-byte vectors for AVX2, chosen at the first
// call by the CPU. (The eight-wide code built for SSE2, each operation split in two, ran
// several times slower than the four-wide: GCC moved the halves through the stack.)
template <unsigned W> struct Lanes;
template <> struct Lanes<4> {
    using i32 = std::int32_t __attribute__((vector_size(16)));
    using f32 = float __attribute__((vector_size(16)));
    using u32 = std::uint32_t __attribute__((vector_size(16)));
};
template <> struct Lanes<8> {
    using i32 = std::int32_t __attribute__((vector_size(32)));
    using f32 = float __attribute__((vector_size(32)));
    using u32 = std::uint32_t __attribute__((vector_size(32)));
};
// (GCC's note that a 32-byte vector passed to a function without AVX goes in memory, an ABI
// that differs from AVX's, is off for this file in core/CMakeLists.txt: the helpers that pass
// them are inlined, and none leaves this file.)

template <class V> [[gnu::always_inline]] inline V load(const void *p) noexcept {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <class V> [[gnu::always_inline]] inline std::int32_t any_bits(const V v) noexcept {
    std::int32_t r = 0;
    for (unsigned k = 0; k < sizeof v / 4; ++k) r |= v[k];
    return r;
}

// Within-n masks: for n servers, kWithin[128 - n + i] is all ones for server i < n and 0
// beyond; kWithin[128 - 2n + k] is the same for word k of the alias table (2 words a server).
constexpr std::uint32_t kMaxAs = MARLLB_MAX_AS;
constexpr auto kWithin = [] {
    std::array<std::int32_t, 4 * kMaxAs> t{};
    for (std::uint32_t i = 0; i < 2 * kMaxAs; ++i) t[i] = -1;
    return t;
}();
// Shares in fixed point: 2^24 units per server. A term 1 - p, rounded to f32 (exact for
// p >= 0.5; within half a unit otherwise, where 1 - p > 0.5 has an ulp of one unit), is an
// integer number of units, and is 0 only when p is exactly 1 (the f32 below 1 is 1 - 2^-24).
// A server's own part 2^24 - term is within half a unit of p * 2^24. A share sums at most
// 65 parts, so it is within 32.5 units (1.94e-6) of the exact share, and at most 65 * 2^24
// fits an int32.
constexpr float kUnits = 16777216.0f;
constexpr std::int32_t kUnitsInt = 16777216;
// The weights' sum is added in f32, one partial sum per lane (at most 16 weights each, added
// in double at the end): within 15 f32 roundings (7 with eight lanes), 8.9e-7 of the sum.
// What a server asks, w * n / sum in units (at most n shares), is computed in f32 from it:
// within that, 2 f32 roundings (1.2e-7) and a truncation (one unit) of the exact value. With the shares' error
// the fast path is within 3.01e-6 * n shares of check_body's double sums (which err by
// ~1e-13), so it accepts only shares this much inside the tolerance, about twice that:
// whatever it accepts, check_body would accept.
constexpr double kShareMarginPerServer = 6e-6;
// Weights summing to less go to check_body: n / sum * 2^24 must fit an f32 (it would overflow
// below about 3e-30 for 64 servers; the bound keeps ten orders of magnitude of room). So do
// weights whose f32 partial sums overflow (a sum not finite).
constexpr double kMinSum = 1e-20;
constexpr double kMaxSum = std::numeric_limits<double>::max();

// A sufficient condition for check_body to return OK, in fewer and wider steps: bit-pattern
// range checks on int32 lanes (the sign bits gathered apart: they must all be 0), and the
// share scatter on integers. It leaves to check_body what it need not decide: a -0.0 or
// subnormal weight or a -0.0 probability within n, weights summing to under kMinSum or
// overflowing the f32 sum, a share near the tolerance, and every action check_body rejects.
// True means OK; false means ask check_body, whose verdict is the LB's.
//
// Subnormal weights: under "denormals are zero" (a thread's MXCSR.DAZ, which some libraries
// set) check_body converts one to 0 and holds its server to a zero share, while this path
// would judge it by its bits as a positive weight. So they are left to check_body.
//
// Like check_body, it reads the action more than once: it must not change meanwhile (the LB
// validates its private copy of the slot).
//
// Inlined into each compiled copy (a callee without a target may be inlined into one with
// more instructions, not the other way).
template <unsigned W> [[gnu::always_inline]] inline bool fast_path(const MsgIn &a) noexcept {
    using i32 = typename Lanes<W>::i32;
    using f32 = typename Lanes<W>::f32;
    const std::uint32_t n = a.num_servers;
    const std::int32_t *within = kWithin.data() + 2 * kMaxAs - n;
    const std::int32_t *within_words = kWithin.data() + 2 * kMaxAs - 2 * n;
    // The alias table is read in place as words (prob bits, index, ...): a copy of it is a
    // `rep movs`, slow to start on some CPUs.
    const auto *table = reinterpret_cast<const std::byte *>(a.alias_table);
    const std::int32_t last = std::int32_t(n) - 1;
    i32 entry_limit; // per alias entry: prob bits <= 1.0f, index <= n - 1
    for (unsigned k = 0; k < W; k += 2) entry_limit[k] = 0x3f800000, entry_limit[k + 1] = last;
    // 1. W servers a step, over the groups of W that hold a server (past them every
    //    word must be 0). Ranges: within n, weight bits +0 or in [the smallest normal, the
    //    largest finite f32], prob bits in [+0, 1.0f], index in [0, n - 1]; beyond n, every
    //    word 0. Each bound is `limit & within`, and the sign bits are gathered apart (all
    //    must be 0: -0.0 within n is left to check_body). A zero weight's own prob must be +0
    //    exactly. Everything refused is gathered in one vector (fewer live registers: SSE2
    //    has 16, and each 32-byte value takes two of them there).
    //    The terms: each entry's 1 - p in units; the shares' four arrays start with each
    //    server's own part in the first, 0 in the others. They are computed from whatever the
    //    entries hold and used only if the ranges hold.
    i32 refused = {};
    f32 sums = {}; // each lane adds every W-th weight
    alignas(32) std::int32_t term[kMaxAs], units[4][kMaxAs];
    const std::uint32_t groups_end = (n + W - 1) & ~(W - 1); // the groups of W with a server in them
    for (std::uint32_t i = 0; i < groups_end; i += W) {
        const i32 w = load<i32>(&a.weights[i]);
        const i32 lo = load<i32>(table + 8 * i), hi = load<i32>(table + 8 * i + 4 * W); // entries i..i+W-1
        const i32 in = load<i32>(within + i);
        i32 prob_bits;
        if constexpr (W == 4) prob_bits = __builtin_shufflevector(lo, hi, 0, 2, 4, 6);
        else prob_bits = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14);
        refused |= (w > (0x7f7fffff & in)) | ((w > 0) & (w < 0x00800000)) | // subnormal: check_body's
                   (lo > (entry_limit & load<i32>(within_words + 2 * i))) |
                   (hi > (entry_limit & load<i32>(within_words + 2 * i + W))) |
                   ((w | lo | hi) >> 31) | // a sign bit
                   ((w == 0) & prob_bits); // a zero weight's server kept
        sums += std::bit_cast<f32>(w); // junk (NaN, negative) is refused above: any sum will do
        // Beyond n, terms and parts are 0: the scatter may run on to a multiple of 4.
        // Prob bits as unsigned, capped at 1.0f: a float in [0, 1] whatever they hold (junk,
        // refused above, with a sign bit or NaN's exponent reads as 1.0f), so no UB below.
        using u32 = typename Lanes<W>::u32;
        const u32 pu = u32(prob_bits), one = u32{} + 0x3f800000u;
        const i32 p = i32(pu > one ? one : pu);
        const i32 t = __builtin_convertvector((1.0f - std::bit_cast<f32>(p)) * kUnits, i32) & in;
        const i32 own = (kUnitsInt - t) & in, zero = {};
        std::memcpy(&term[i], &t, sizeof t);
        std::memcpy(&units[0][i], &own, sizeof own);
        for (std::uint32_t k = 1; k < 4; ++k) std::memcpy(&units[k][i], &zero, sizeof zero);
    }
    for (std::uint32_t i = groups_end; i < kMaxAs; i += W) // past them, every bit 0
        refused |= load<i32>(&a.weights[i]) | load<i32>(table + 8 * i) | load<i32>(table + 8 * i + 4 * W);
    double sum = 0;
    for (unsigned k = 0; k < W; ++k) sum += double(sums[k]);
    if (any_bits(refused) != 0 || !(sum >= kMinSum && sum <= kMaxSum)) return false;
    // 2. The scatter, into four arrays by entry (a Vose table aliases runs of entries to one
    //    server; one array would chain each add to the previous store).
    const auto alias = [table](std::uint32_t i) { return load<std::uint32_t>(table + 8 * i + 4) & (kMaxAs - 1); };
    for (std::uint32_t i = 0; i < n; i += 4) {
        units[0][alias(i)] += term[i];
        units[1][alias(i + 1)] += term[i + 1];
        units[2][alias(i + 2)] += term[i + 2];
        units[3][alias(i + 3)] += term[i + 3];
    }
    // 3. A zero weight: no mass at all. Its own part is 0 (phase 1 held its prob to +0, so
    //    its term is 2^24), so its share is what aliases give it (1 - p for each entry aliasing
    //    it), and must be 0.
    //    Every server: the share within the tolerance less the margin of what the weight asks,
    //    w * n / sum in units, rounded in f32 (w <= sum, so about n * 2^24 at most: an int32).
    //    |d| is taken as d < 0 ? -d : d: shares and asks are under 2^31 apart, so -d fits.
    //    Beyond n every weight and part is 0.
    const f32 scale = f32{} + float(double(n) / sum * double(kUnits));
    const i32 limit = i32{} + std::int32_t((kAliasShareTolerance - kShareMarginPerServer) * n * double(kUnits));
    i32 bad = {};
    for (std::uint32_t i = 0; i < groups_end; i += W) {
        const i32 share = (load<i32>(&units[0][i]) + load<i32>(&units[1][i])) +
                          (load<i32>(&units[2][i]) + load<i32>(&units[3][i]));
        const i32 w = load<i32>(&a.weights[i]);
        bad |= (w == 0) & share;
        const i32 d = share - __builtin_convertvector(std::bit_cast<f32>(w) * scale, i32);
        bad |= (d < 0 ? -d : d) > limit;
    }
    return any_bits(bad) == 0;
}

// The two compiled copies. Both are always built (on x86-64), so tests can hold each against
// the exact checks whatever CPU runs them.
bool fast_path_baseline(const MsgIn &a) noexcept { return fast_path<4>(a); }
#if defined(__x86_64__)
[[gnu::target("avx2")]] bool fast_path_avx2(const MsgIn &a) noexcept { return fast_path<8>(a); }
bool cpu_has_avx2() noexcept {
    static const bool has = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") != 0);
    return has;
}
#endif

bool surely_acceptable(const MsgIn &a) noexcept {
#if defined(__x86_64__)
    if (cpu_has_avx2()) return fast_path_avx2(a);
#endif
    return fast_path_baseline(a);
}

// The LB's verdict: check_body's, reached through the fast path when it can vouch.
RejectReason validate(const MsgIn &a, std::uint64_t newest_seq, ServerSet set) noexcept {
    if (const RejectReason r = check_header(a, newest_seq, set); r != MARLLB_ACTION_OK) return r;
    return surely_acceptable(a) ? MARLLB_ACTION_OK : check_body(a);
}
} // namespace

namespace detail {
bool action_fast_path_accepts(const MsgIn &a, FastPath which) noexcept {
    if (a.num_servers - 1u >= MARLLB_MAX_AS) return false;
    switch (which) {
    case FastPath::baseline: return fast_path_baseline(a);
#if defined(__x86_64__)
    case FastPath::avx2: return cpu_has_avx2() && fast_path_avx2(a);
#else
    case FastPath::avx2: return false;
#endif
    case FastPath::chosen: break;
    }
    return surely_acceptable(a);
}
bool action_fast_path_has_avx2() noexcept {
#if defined(__x86_64__)
    return cpu_has_avx2();
#else
    return false;
#endif
}
RejectReason action_body_verdict(const MsgIn &a) noexcept {
    return a.num_servers - 1u < MARLLB_MAX_AS ? check_body(a) : MARLLB_ACTION_NUM_SERVERS;
}
} // namespace detail

RejectReason validate_action(const MsgIn &a, std::uint64_t newest_seq, ServerSet set) noexcept {
    if constexpr (plant::validate_again)
        plant::again_in<1, 2>([&] {
            asm volatile("" ::: "memory"); // the action may have changed: no reuse of a result
            RejectReason again = validate(a, newest_seq, set);
            asm volatile("" : : "r"(again)); // computed, not optimised away
        });
    return validate(a, newest_seq, set);
}

const char *describe(RejectReason reason) noexcept {
    switch (reason) {
    case MARLLB_ACTION_OK: return "ok";
    case MARLLB_ACTION_SEQ_ZERO: return "sequence_id is 0: an action must echo the sequence_id of an observation (ids start at 1)";
    case MARLLB_ACTION_SEQ_FROM_FUTURE: return "sequence_id is newer than every published observation: echo the id of the observation the action answers";
    case MARLLB_ACTION_NUM_SERVERS: return "num_servers must be 1..64";
    case MARLLB_ACTION_WEIGHT_NOT_FINITE: return "a weight is NaN or infinite";
    case MARLLB_ACTION_WEIGHT_NEGATIVE: return "a weight is negative";
    case MARLLB_ACTION_WEIGHT_BEYOND_N: return "a weight beyond num_servers is not 0";
    case MARLLB_ACTION_WEIGHTS_ALL_ZERO: return "all weights are 0: no server could be chosen";
    case MARLLB_ACTION_ALIAS_PROB_RANGE: return "an alias probability is NaN or outside [0, 1]";
    case MARLLB_ACTION_ALIAS_INDEX_RANGE: return "an alias index is not below num_servers";
    case MARLLB_ACTION_RESERVED_NONZERO: return "the reserved field is not 0: zero the whole action before filling it";
    case MARLLB_ACTION_ALIAS_BEYOND_N: return "an alias entry beyond num_servers is not all zero: zero entries num_servers..63 (marllb_alias_build does)";
    case MARLLB_ACTION_ALIAS_MISMATCH: return "the alias table does not draw servers in proportion to the weights (rebuild it with marllb_alias_build)";
    case MARLLB_ACTION_SERVER_COUNT: return "num_servers is not the LB's server count: send one weight per server of the LB (marllb_agent_num_servers)";
    case MARLLB_ACTION_SERVER_SET: return "the action answers an observation of a server set the LB has since changed: answer an observation of the current set";
    case MARLLB_ACTION_META: return "the action's metadata is junk (an observation generation above the LB's, or its reserved word set): write actions through marllb_agent_write_action";
    default: return "unknown reject reason";
    }
}

} // namespace marllb::shm

// Vose's alias method (Vose 1991). Worked in double, stored as f32.
// Zero-weight entries never get drawn: while one is unpaired, the unpaired mass exceeds what
// the small entries can hold by at least 1 (far above rounding), so a large entry exists to
// pair it with, and it ends with prob 0 and an alias to a positive entry. The last loop
// guards that anyway.
extern "C" int marllb_alias_build(const float *weights, uint32_t n, marllb_alias_entry_t *table) {
    using marllb::shm::detail::set_last_error;
    if (!weights || !table)
        return set_last_error("marllb_alias_build: weights or table is NULL"), MARLLB_E_INVAL;
    if (n == 0 || n > MARLLB_MAX_AS)
        return set_last_error("marllb_alias_build: n is " + std::to_string(n) + "; build for 1 to 64 servers"),
               MARLLB_E_INVAL;
    double sum = 0;
    for (uint32_t i = 0; i < n; ++i) {
        if (!std::isfinite(weights[i]) || weights[i] < 0)
            return set_last_error("marllb_alias_build: weight " + std::to_string(i) + " is " +
                                  std::to_string(weights[i]) + "; weights must be finite and >= 0"),
                   MARLLB_E_INVAL;
        sum += weights[i];
    }
    if (sum == 0)
        return set_last_error("marllb_alias_build: every weight is 0, so no server could be drawn; give at least one a positive weight"),
               MARLLB_E_INVAL;
    double p[MARLLB_MAX_AS];
    uint32_t small[MARLLB_MAX_AS], large[MARLLB_MAX_AS];
    uint32_t ns = 0, nl = 0, any_positive = 0;
    for (uint32_t i = 0; i < n; ++i) {
        p[i] = double(weights[i]) * n / sum;
        if (weights[i] > 0) any_positive = i;
        if (p[i] < 1.0) small[ns++] = i;
        else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
        const uint32_t s = small[--ns];
        const uint32_t l = large[--nl];
        table[s].prob = float(p[s]);
        table[s].alias = l;
        p[l] = (p[l] + p[s]) - 1.0;
        if (p[l] < 1.0) small[ns++] = l;
        else large[nl++] = l;
    }
    while (nl > 0) { // leftovers are 1 up to rounding
        const uint32_t l = large[--nl];
        table[l] = {1.0f, l};
    }
    while (ns > 0) {
        const uint32_t s = small[--ns];
        table[s] = weights[s] > 0 ? marllb_alias_entry_t{1.0f, s} : marllb_alias_entry_t{0.0f, any_positive};
    }
    for (uint32_t i = n; i < MARLLB_MAX_AS; ++i) table[i] = {0.0f, 0};
    return MARLLB_OK;
}

extern "C" marllb_action_reject_t marllb_action_validate(const marllb_msg_in_t *action, uint64_t newest_seq) {
    return marllb::shm::validate_action(*action, newest_seq);
}

extern "C" marllb_action_reject_t marllb_action_validate_for(const marllb_msg_in_t *action, uint64_t newest_seq,
                                                             uint32_t num_servers, uint64_t server_set_seq) {
    return marllb::shm::validate_action(*action, newest_seq, {num_servers, server_set_seq});
}

extern "C" const char *marllb_reject_reason_str(marllb_action_reject_t reason) {
    return marllb::shm::describe(reason);
}
