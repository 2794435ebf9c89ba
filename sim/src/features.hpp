// Reservoirs of samples (128 per server and metric) and the five features MARLLB computes
// from each at publish time: mean, p90 (linear interpolation), std (ddof 0), decayed mean and
// decayed p90 with weights w_i = gamma^(now - t_i), gamma per second.
//
// Decay, as MARLLB: the decayed values are w_i * v_i; decayed mean = sum(w_i v_i) / n and
// decayed p90 = p90 of {w_i v_i} (not normalised). With normalisation on, both are divided by
// the mean weight sum(w_i) / n, so a reservoir of equal values decays to that value.
//
// Cost (docs/design/features.md): a publish must stay O(1) per reservoir, so the work moves
// to the sample. w_i = gamma^(now - E) * g_i with g_i = gamma^(E - t_i) for a per-reservoir
// epoch E: g_i and u_i = v_i g_i are fixed per sample, so the order of {w_i v_i} is the order
// of {u_i}. Each add keeps running sums (v, u, g) and the largest values of v and of u
// in two small sorted "top" sets, enough for the p90's two order statistics. A publish reads
// them; only a top set that lost too many members by eviction is rebuilt (a selection over
// 128 values), and a reservoir takes a new epoch when its own is 30 s old (one
// reservoir per publish, so the cost is spread).
#pragma once

#include <marllb/shm_layout.h>

#include <array>
#include <cstdint>

namespace marllb::sim {

enum class ReservoirMode : std::uint8_t { random_replacement, algorithm_r };

struct FeatureOptions {
    double gamma = 0.9;
    bool normalise_decay = false;
};

// The five features of one metric, in the ABI's order (MARLLB_FCT_MEAN .. _P90_DECAY).
using Features = std::array<float, MARLLB_NUM_FEATURES>;

// The k largest of a set of values, sorted descending, each with the slot it came from.
// Invariant: every value of the set not held here is <= the smallest held (see add/remove).
class TopSet {
public:
    static constexpr unsigned kMax = 24;
    void clear() noexcept { n_ = 0; member_[0] = member_[1] = 0; }
    [[nodiscard]] unsigned size() const noexcept { return n_; }
    [[nodiscard]] double at(unsigned i) const noexcept { return v_[i]; } // i-th largest
    // x joins if it is larger than the smallest held or the set holds every value (complete).
    // Returns the slot pushed out when the set was full (or -1).
    int offer(double x, std::uint8_t slot, bool complete) noexcept;
    // Removes the value of `slot` if held; returns whether it was.
    bool remove(std::uint8_t slot) noexcept;
    // Replaces the contents with the largest `k` of v[0..n).
    void rebuild(const double *v, unsigned n) noexcept;
    [[nodiscard]] bool holds(std::uint8_t slot) const noexcept { return member_[slot >> 6] >> (slot & 63) & 1; }

private:
    void mark(std::uint8_t slot, bool in) noexcept {
        const std::uint64_t bit = std::uint64_t(1) << (slot & 63);
        member_[slot >> 6] = in ? member_[slot >> 6] | bit : member_[slot >> 6] & ~bit;
    }
    double v_[kMax];
    std::uint8_t slot_[kMax];
    unsigned n_ = 0;
    std::uint64_t member_[2] = {0, 0}; // slots held, so a miss costs no scan
};

// What a sample touches besides its slot of the raw layout: the slot count, the marks, the
// number seen. A reservoir's settled state (sums, top sets, the decay weights) is over 3 KiB that
// only a publish reads; the LB keeps the intakes of all its reservoirs in one array (32 bytes
// each, 4 KiB for 64 servers x 2 metrics), so a sample reads one line that stays in cache and
// never follows a pointer into the reservoir object (docs/sim.md, "The LB at its own limit").
struct alignas(32) ReservoirIntake {
    std::uint64_t dirty[2] = {0, 0}; // slots written since the reservoir last settled
    std::uint64_t seen = 0;          // samples offered
    unsigned count = 0;              // slots written so far (full at MARLLB_RESERVOIR_CAPACITY)
    bool have_epoch = false;         // the reservoir took its first decay epoch (Reservoir::add)

    // The value and time go into a slot of raw, and the slot is marked: MARLLB's data path
    // (lbhash.h:108, 124). rnd: a fresh random number. Callers go through Reservoir::add, or
    // check have_epoch and call it when false (the LB's add_sample).
    void put(marllb_reservoir_raw_t &raw, float value, std::uint64_t t_ns, ReservoirMode mode,
             std::uint64_t rnd) noexcept {
        constexpr unsigned kCap = MARLLB_RESERVOIR_CAPACITY;
        ++seen;
        unsigned slot;
        if (count < kCap) slot = count++;
        else if (mode == ReservoirMode::random_replacement) slot = unsigned(rnd % kCap);
        else {
            const std::uint64_t j = rnd % seen;
            if (j >= kCap) return;
            slot = unsigned(j);
        }
        raw.values[slot] = value;
        raw.timestamps[slot] = t_ns;
        dirty[slot >> 6] |= std::uint64_t(1) << (slot & 63);
    }
};
static_assert(sizeof(ReservoirIntake) == 32 && MARLLB_RESERVOIR_CAPACITY == 128, "two 64-bit words of marks");

class Reservoir {
public:
    static constexpr unsigned kCap = MARLLB_RESERVOIR_CAPACITY;

    // storage: where the raw samples live (the LB keeps all of its reservoirs in one
    // marllb_reservoir_data_t, so a publish copies them into the region in one pass);
    // nullptr = inside this object. intake: where the data path's counters live (the LB's
    // array, see ReservoirIntake); nullptr = inside this object.
    // zero_slots: MARLLB's layout (lbhash.h:108, shm_proxy.py:531-539): 128 slots that start
    // as zeros, every sample written to a random slot from the first one, and the features
    // read over all 128, zeros included. Otherwise slots fill in order and only filled ones count.
    explicit Reservoir(marllb_reservoir_raw_t *storage = nullptr, bool zero_slots = false,
                       ReservoirIntake *intake = nullptr) noexcept
        : raw_(storage ? storage : &own_), in_(intake ? intake : &own_in_) {
        *in_ = {};
        if (zero_slots) {
            *raw_ = {};
            in_->count = settled_count_ = kCap;
            stale_tops_ = true;
        }
    }
    Reservoir(const Reservoir &) = delete;
    Reservoir &operator=(const Reservoir &) = delete;

    // Adds a sample (value in seconds, taken at t_ns). rnd: a fresh random number. The data
    // path's share only, as MARLLB's (lbhash.h:108, 124): the value and time go into a slot,
    // the slot is marked; sums, top sets and weights catch up at the next features().
    void add(float value, std::uint64_t t_ns, ReservoirMode mode, std::uint64_t rnd, const FeatureOptions &opt) noexcept {
        if (!in_->have_epoch) new_epoch(t_ns, opt); // once per reservoir
        in_->put(*raw_, value, t_ns, mode, rnd);
    }

    // Features at now_ns (now_ns >= every sample's time for the decay to be < 1).
    [[nodiscard]] Features features(std::uint64_t now_ns, const FeatureOptions &opt) noexcept;

    // Takes a new decay epoch (128 exponentials and a rebuild, ~2 us) if the current one is
    // older than 30 s; the LB calls it for one reservoir per publish, so the cost is spread.
    bool renew_epoch_if_old(std::uint64_t now_ns, const FeatureOptions &opt) noexcept;

    [[nodiscard]] unsigned count() const noexcept { return in_->count; }
    [[nodiscard]] std::uint64_t seen() const noexcept { return in_->seen; }
    [[nodiscard]] const marllb_reservoir_raw_t &raw() const noexcept { return *raw_; }
    [[nodiscard]] std::uint64_t rebuilds() const noexcept { return rebuilds_; }

private:
    void new_epoch(std::uint64_t epoch_ns, const FeatureOptions &opt) noexcept;
    void settle() noexcept;    // brings weights, sums and top sets up to the marked slots
    void recompute() noexcept; // sums and both top sets from scratch
    void resum() noexcept;     // the running sums from scratch (bounds their rounding drift)
    [[nodiscard]] double p90_from(const TopSet &top) const noexcept;

    marllb_reservoir_raw_t own_{};
    ReservoirIntake own_in_{};
    marllb_reservoir_raw_t *raw_;  // exactly the ABI's raw layout: copied into the region as is
    ReservoirIntake *in_;          // slots written, marks, samples seen (the data path's)
    unsigned settled_count_ = 0;  // slots the sums and top sets cover
    std::uint64_t epoch_ns_ = 0;
    double gamma_ = 0, ln_gamma_ = 0; // the epoch's gamma and its log
    bool stale_tops_ = false;      // a top set fell below what the p90 needs
    unsigned since_recompute_ = 0; // replacements since the sums were exact
    double v_[kCap]{};             // v_i as the sums and top sets hold it
    double g_[kCap]{};             // gamma^(E - t_i)
    double u_[kCap]{};             // v_i * g_[i]
    double sum_v_ = 0, sum_u_ = 0, sum_g_ = 0;
    double std_ = 0;          // the std of the settled values, by two passes
    bool std_stale_ = true;   // values changed since std_ was computed
    TopSet top_v_, top_u_;
    std::uint64_t rebuilds_ = 0;
};

// p90 by linear interpolation between order statistics (numpy's default); v is reordered.
[[nodiscard]] double p90_inplace(double *v, unsigned n) noexcept;

} // namespace marllb::sim
