// Reservoirs of samples (128 per server and metric) and the five features MARLLB computes
// from each at publish time: mean, p90 (linear interpolation), std (ddof 0), decayed mean and
// decayed p90 with weights w_i = gamma^(now - t_i), gamma per second.
//
// Decay, as MARLLB: the decayed values are w_i * v_i; decayed mean = sum(w_i v_i) / n and
// decayed p90 = p90 of {w_i v_i} (not normalised). With normalisation on, both are divided by
// the mean weight sum(w_i) / n, so a reservoir of equal values decays to that value.
//
// Cost: w_i = gamma^(now - E) * gamma^(E - t_i) for a fixed epoch E, so the per-sample factor
// gamma^(E - t_i) is computed once per sample and the per-publish work for a reservoir that
// gained no sample since the last publish is a few multiplications.
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

class Reservoir {
public:
    static constexpr unsigned kCap = MARLLB_RESERVOIR_CAPACITY;

    // Adds a sample (value in seconds, taken at t_ns). rnd: a fresh random number.
    void add(float value, std::uint64_t t_ns, ReservoirMode mode, std::uint64_t rnd) noexcept {
        ++seen_;
        unsigned slot;
        if (count_ < kCap) slot = count_++;
        else if (mode == ReservoirMode::random_replacement) slot = unsigned(rnd % kCap);
        else {
            const std::uint64_t j = rnd % seen_;
            if (j >= kCap) return;
            slot = unsigned(j);
        }
        raw_.values[slot] = value;
        raw_.timestamps[slot] = t_ns;
        changed_[slot >> 6] |= std::uint64_t(1) << (slot & 63);
    }

    // Features at now_ns. Any number of calls; recomputes only what changed.
    [[nodiscard]] Features features(std::uint64_t now_ns, const FeatureOptions &opt) noexcept;

    [[nodiscard]] unsigned count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t seen() const noexcept { return seen_; }
    [[nodiscard]] const marllb_reservoir_raw_t &raw() const noexcept { return raw_; }

private:
    void refresh(const FeatureOptions &opt, std::uint64_t now_ns) noexcept;

    marllb_reservoir_raw_t raw_{};  // exactly the ABI's raw layout: copied into the region as is
    unsigned count_ = 0;
    std::uint64_t seen_ = 0;
    std::uint64_t changed_[2] = {0, 0}; // slots added since the cached figures were computed
    bool have_epoch_ = false;
    std::uint64_t epoch_ns_ = 0;
    double gamma_ = 0;
    double g_[kCap]{}; // gamma^(epoch - t_i)
    // Cached over the current samples:
    double mean_ = 0, std_ = 0, p90_ = 0, sum_u_ = 0, sum_g_ = 0, p90_u_ = 0;
};

// p90 by linear interpolation between order statistics (numpy's default); v is reordered.
[[nodiscard]] double p90_inplace(double *v, unsigned n) noexcept;

} // namespace marllb::sim
