#include "work.hpp"

#include <charconv>
#include <cmath>
#include <numbers>

namespace marllb::sim {

namespace {

bool number(std::string_view s, double &out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size() && std::isfinite(out);
}

// The standard normal quantile: Acklam's rational approximation refined by one Halley step
// on erfc (relative error below 1e-12 over (0, 1)).
double normal_quantile(double u) {
    static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                   1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                   6.680131188771972e+01, -1.328068155288572e+01};
    static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                   -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
    double x;
    if (u < 0.02425) {
        const double q = std::sqrt(-2 * std::log(u));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (u <= 1 - 0.02425) {
        const double q = u - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        const double q = std::sqrt(-2 * std::log1p(-u));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    const double e = 0.5 * std::erfc(-x / std::numbers::sqrt2) - u;
    const double g = e * std::sqrt(2 * std::numbers::pi) * std::exp(x * x / 2);
    return x - g / (1 + x * g / 2);
}

} // namespace

shm::Expected<WorkDist> WorkDist::parse(std::string_view spec, double mean_s) {
    auto fail = [&](const std::string &what) {
        return shm::unexpected(shm::Error{shm::Errc::invalid, "--work '" + std::string(spec) + "': " + what +
                                                                  " (exp, lognormal:SIGMA or pareto:ALPHA[:SPAN], e.g. pareto:1.2)"});
    };
    if (!(mean_s > 0) || !std::isfinite(mean_s)) return fail("the mean work must be > 0");
    WorkDist w;
    w.spec_ = std::string(spec);
    w.mean_ = mean_s;
    if (spec == "exp") return w;
    const auto colon = spec.find(':');
    const std::string_view name = spec.substr(0, colon), rest = colon == spec.npos ? "" : spec.substr(colon + 1);
    if (name == "lognormal") {
        double sigma = 0;
        if (!number(rest, sigma) || !(sigma > 0) || sigma > 4) return fail("SIGMA must be a number in (0, 4]");
        w.kind_ = Kind::lognormal;
        w.sigma_ = sigma;
        w.mu_ = std::log(mean_s) - sigma * sigma / 2; // E[e^X] = e^(mu + sigma^2/2)
        return w;
    }
    if (name == "pareto") {
        const auto colon2 = rest.find(':');
        double alpha = 0, span = 1e4;
        if (!number(rest.substr(0, colon2), alpha) || alpha < 0.5 || alpha > 4 || std::fabs(alpha - 1) < 1e-9)
            return fail("ALPHA must be a number in [0.5, 4], not 1");
        if (colon2 != rest.npos && (!number(rest.substr(colon2 + 1), span) || span < 2 || span > 1e9))
            return fail("SPAN (the upper bound over the lower) must be a number in [2, 1e9]");
        // Mean of the bounded Pareto on [L, k L]: L * alpha/(alpha-1) * (1 - k^(1-alpha)) / (1 - k^-alpha).
        const double g = alpha / (alpha - 1) * (1 - std::pow(span, 1 - alpha)) / (1 - std::pow(span, -alpha));
        w.kind_ = Kind::bounded_pareto;
        w.alpha_ = alpha;
        w.low_ = mean_s / g;
        w.high_ = w.low_ * span;
        return w;
    }
    return fail("unknown distribution");
}

double WorkDist::quantile(double u) const noexcept {
    switch (kind_) {
    case Kind::exponential: return -mean_ * std::log1p(-u);
    case Kind::lognormal: return std::exp(mu_ + sigma_ * normal_quantile(u));
    case Kind::bounded_pareto: // F^-1(u) = L (1 - u (1 - (L/H)^alpha))^(-1/alpha)
        return low_ * std::pow(1 - u * (1 - std::pow(low_ / high_, alpha_)), -1 / alpha_);
    }
    return mean_;
}

} // namespace marllb::sim
