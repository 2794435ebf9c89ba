#include "features.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace marllb::sim {

namespace {
constexpr std::uint64_t kEpochSpanNs = 30'000'000'000ull;   // gamma^-30 = 23.6 at 0.9: sums stay well scaled
constexpr std::uint64_t kEpochLimitNs = 600'000'000'000ull; // gamma^-600 ~ 1e27: renewed here whatever it costs
constexpr unsigned kRecomputeEvery = 4096;                 // bounds the rounding drift of the running sums

// How many of the largest values the p90 of n values reads: ranks floor(0.9 (n-1)) and the one above.
unsigned p90_needs(unsigned n) noexcept { return n - unsigned(0.9 * double(n - 1)); }
} // namespace

double p90_inplace(double *v, unsigned n) noexcept {
    if (n == 0) return 0;
    const double pos = 0.9 * double(n - 1);
    const unsigned lo = unsigned(pos);
    const double frac = pos - double(lo);
    std::nth_element(v, v + lo, v + n);
    const double a = v[lo];
    if (lo + 1 >= n || frac == 0) return a;
    const double b = *std::min_element(v + lo + 1, v + n);
    return a + frac * (b - a);
}

// ---- TopSet --------------------------------------------------------------------------------

int TopSet::offer(double x, std::uint8_t slot, bool complete) noexcept {
    if (!complete && (n_ == 0 || x <= v_[n_ - 1])) return -1;
    int pushed_out = -1;
    if (n_ == kMax) {
        if (x <= v_[n_ - 1]) return int(slot); // full and x is the smallest: x itself stays out
        pushed_out = slot_[--n_];
        mark(std::uint8_t(pushed_out), false);
    }
    // Position: after every value >= x (binary search), then one block move.
    unsigned lo = 0, hi = n_;
    while (lo < hi) {
        const unsigned mid = (lo + hi) / 2;
        if (v_[mid] >= x) lo = mid + 1;
        else hi = mid;
    }
    const unsigned i = lo;
    std::memmove(v_ + i + 1, v_ + i, (n_ - i) * sizeof v_[0]);
    std::memmove(slot_ + i + 1, slot_ + i, (n_ - i) * sizeof slot_[0]);
    ++n_;
    v_[i] = x;
    slot_[i] = slot;
    mark(slot, true);
    return pushed_out;
}

bool TopSet::remove(std::uint8_t slot) noexcept {
    if (!holds(slot)) return false;
    mark(slot, false);
    for (unsigned i = 0; i < n_; ++i)
        if (slot_[i] == slot) {
            std::memmove(v_ + i, v_ + i + 1, (n_ - i - 1) * sizeof v_[0]);
            std::memmove(slot_ + i, slot_ + i + 1, (n_ - i - 1) * sizeof slot_[0]);
            --n_;
            return true;
        }
    return false;
}

void TopSet::rebuild(const double *v, unsigned n) noexcept {
    // The kMax largest by one selection, then sorted descending.
    unsigned idx[Reservoir::kCap];
    for (unsigned i = 0; i < n; ++i) idx[i] = i;
    const unsigned k = std::min(n, kMax);
    auto larger = [&](unsigned a, unsigned b) { return v[a] > v[b]; };
    if (k < n) std::nth_element(idx, idx + k, idx + n, larger);
    std::sort(idx, idx + k, larger);
    clear();
    n_ = k;
    for (unsigned i = 0; i < k; ++i) {
        v_[i] = v[idx[i]];
        slot_[i] = std::uint8_t(idx[i]);
        mark(slot_[i], true);
    }
}

// ---- Reservoir -------------------------------------------------------------------------------

void Reservoir::resum() noexcept {
    std_stale_ = true;
    sum_v_ = sum_u_ = sum_g_ = 0;
    for (unsigned i = 0; i < settled_count_; ++i) {
        sum_v_ += v_[i];
        sum_u_ += u_[i];
        sum_g_ += g_[i];
    }
    since_recompute_ = 0;
}

void Reservoir::recompute() noexcept {
    resum();
    top_v_.rebuild(v_, settled_count_);
    top_u_.rebuild(u_, settled_count_);
    stale_tops_ = false;
    ++rebuilds_;
}

void Reservoir::new_epoch(std::uint64_t epoch_ns, const FeatureOptions &opt) noexcept {
    in_->have_epoch = true;
    epoch_ns_ = epoch_ns;
    gamma_ = opt.gamma;
    ln_gamma_ = std::log(opt.gamma);
    settled_count_ = in_->count;
    in_->dirty[0] = in_->dirty[1] = 0;
    for (unsigned i = 0; i < in_->count; ++i) {
        v_[i] = raw_->values[i];
        g_[i] = std::exp(ln_gamma_ * (double(epoch_ns_) - double(raw_->timestamps[i])) * 1e-9);
        u_[i] = v_[i] * g_[i];
    }
    recompute();
}

// A slot rewritten several times since the last publish is settled once, with its last
// sample: a publish reads the reservoir's content, not its history. A few marked slots update
// the sums and top sets one by one; more than kRebuildAbove cost less as one rebuild (two
// selections over 128 values).
void Reservoir::settle() noexcept {
    constexpr unsigned kRebuildAbove = 24;
    const unsigned marked = unsigned(__builtin_popcountll(in_->dirty[0]) + __builtin_popcountll(in_->dirty[1]));
    if (marked == 0) return;
    std_stale_ = true;
    const bool rebuild = marked > kRebuildAbove || stale_tops_;
    for (unsigned w = 0; w < 2; ++w)
        for (std::uint64_t bits = in_->dirty[w]; bits; bits &= bits - 1) {
            const unsigned slot = w * 64 + unsigned(__builtin_ctzll(bits));
            const double v = raw_->values[slot];
            const double g = std::exp(ln_gamma_ * (double(epoch_ns_) - double(raw_->timestamps[slot])) * 1e-9);
            if (rebuild) {
                v_[slot] = v, g_[slot] = g, u_[slot] = v * g;
                continue;
            }
            if (slot < settled_count_) { // the sample leaving: out of the sums and the top sets
                sum_v_ -= v_[slot];
                sum_u_ -= u_[slot];
                sum_g_ -= g_[slot];
                top_v_.remove(std::uint8_t(slot));
                top_u_.remove(std::uint8_t(slot));
                ++since_recompute_;
            } else {
                settled_count_ = slot + 1; // slots fill in order until the reservoir is full
            }
            v_[slot] = v, g_[slot] = g, u_[slot] = v * g;
            sum_v_ += v;
            sum_u_ += u_[slot];
            sum_g_ += g;
            // While the reservoir fits in a top set, the sets hold every value (complete).
            const bool complete = settled_count_ <= TopSet::kMax && !stale_tops_;
            top_v_.offer(v, std::uint8_t(slot), complete);
            top_u_.offer(u_[slot], std::uint8_t(slot), complete);
            const unsigned need = p90_needs(settled_count_);
            if (top_v_.size() < need || top_u_.size() < need) stale_tops_ = true;
        }
    in_->dirty[0] = in_->dirty[1] = 0;
    if (rebuild) {
        settled_count_ = in_->count;
        recompute();
    }
}

bool Reservoir::renew_epoch_if_old(std::uint64_t now_ns, const FeatureOptions &opt) noexcept {
    if (!in_->have_epoch || now_ns <= epoch_ns_ + kEpochSpanNs) return false;
    new_epoch(now_ns, opt);
    return true;
}

double Reservoir::p90_from(const TopSet &top) const noexcept {
    const unsigned n = settled_count_;
    const double pos = 0.9 * double(n - 1);
    const unsigned lo = unsigned(pos);
    const double frac = pos - double(lo);
    const double a = top.at(n - 1 - lo); // ascending rank lo = descending index n-1-lo
    if (lo + 1 >= n || frac == 0) return a;
    return a + frac * (top.at(n - 2 - lo) - a);
}

Features Reservoir::features(std::uint64_t now_ns, const FeatureOptions &opt) noexcept {
    if (in_->count == 0) return {};
    if (opt.gamma != gamma_ || now_ns > epoch_ns_ + kEpochLimitNs) new_epoch(now_ns, opt);
    else settle();
    if (stale_tops_) recompute();
    else if (since_recompute_ >= kRecomputeEvery) resum();
    const double n = settled_count_;
    const double mean = sum_v_ / n;
    if (std_stale_) { // two passes over the held values: no cancellation, no removed square's rounding
        double sum = 0, ss = 0;
        for (unsigned i = 0; i < settled_count_; ++i) sum += v_[i];
        const double m = sum / n;
        for (unsigned i = 0; i < settled_count_; ++i) ss += (v_[i] - m) * (v_[i] - m);
        std_ = std::sqrt(ss / n);
        std_stale_ = false;
    }
    // w_i = gamma^(now - t_i) = f * g_i; a sample stamped after now has w > 1.
    const double f = std::exp(ln_gamma_ * (double(now_ns) - double(epoch_ns_)) * 1e-9);
    double mean_decay = f * sum_u_ / n;
    double p90_decay = f * p90_from(top_u_);
    if (opt.normalise_decay && sum_g_ > 0) {
        const double mean_w = f * sum_g_ / n;
        mean_decay /= mean_w;
        p90_decay /= mean_w;
    }
    return {float(mean), float(p90_from(top_v_)), float(std_), float(mean_decay), float(p90_decay)};
}

} // namespace marllb::sim
