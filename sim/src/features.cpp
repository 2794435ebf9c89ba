#include "features.hpp"

#include <algorithm>
#include <cmath>

namespace marllb::sim {

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

void Reservoir::refresh(const FeatureOptions &opt, std::uint64_t now_ns) noexcept {
    // A new epoch when gamma changed or the oldest factor would leave double's range
    // (gamma^-t overflows after ~6,700 s at 0.9): every factor is recomputed.
    const bool rebase = !have_epoch_ || gamma_ != opt.gamma || now_ns - epoch_ns_ > 600'000'000'000ull;
    if (rebase) {
        have_epoch_ = true;
        gamma_ = opt.gamma;
        epoch_ns_ = now_ns;
        changed_[0] = changed_[1] = ~std::uint64_t(0);
    }
    const double log_gamma = std::log(gamma_);
    for (unsigned w = 0; w < 2; ++w)
        for (std::uint64_t bits = changed_[w]; bits; bits &= bits - 1) {
            const unsigned i = w * 64 + unsigned(__builtin_ctzll(bits));
            if (i >= count_) break;
            const double age_s = (double(epoch_ns_) - double(raw_.timestamps[i])) * 1e-9;
            g_[i] = std::exp(log_gamma * age_s);
        }
    changed_[0] = changed_[1] = 0;

    const unsigned n = count_;
    double tmp[kCap];
    double sum = 0, sum_u = 0, sum_g = 0;
    for (unsigned i = 0; i < n; ++i) {
        sum += raw_.values[i];
        sum_g += g_[i];
    }
    mean_ = n ? sum / n : 0;
    double ss = 0;
    for (unsigned i = 0; i < n; ++i) {
        const double d = raw_.values[i] - mean_;
        ss += d * d;
        tmp[i] = raw_.values[i];
    }
    std_ = n ? std::sqrt(ss / n) : 0;
    p90_ = p90_inplace(tmp, n);
    for (unsigned i = 0; i < n; ++i) {
        tmp[i] = raw_.values[i] * g_[i];
        sum_u += tmp[i];
    }
    p90_u_ = p90_inplace(tmp, n);
    sum_u_ = sum_u;
    sum_g_ = sum_g;
}

Features Reservoir::features(std::uint64_t now_ns, const FeatureOptions &opt) noexcept {
    if (count_ == 0) return {};
    if (changed_[0] | changed_[1] || !have_epoch_ || gamma_ != opt.gamma || now_ns - epoch_ns_ > 600'000'000'000ull)
        refresh(opt, now_ns);
    // w_i = gamma^(now - t_i) = gamma^(now - E) * g_i; a sample stamped after now has w > 1.
    const double f = std::exp(std::log(gamma_) * (double(now_ns) - double(epoch_ns_)) * 1e-9);
    double mean_decay = f * sum_u_ / count_;
    double p90_decay = f * p90_u_;
    if (opt.normalise_decay && sum_g_ > 0) {
        const double mean_w = f * sum_g_ / count_;
        mean_decay /= mean_w;
        p90_decay /= mean_w;
    }
    return {float(mean_), float(p90_), float(std_), float(mean_decay), float(p90_decay)};
}

} // namespace marllb::sim
