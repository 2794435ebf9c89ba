// The work a Poisson flow asks of its server, in core-seconds: exponential (the default, as
// before), lognormal, or bounded Pareto (heavy-tailed: a few elephant flows carry much of the
// work while the LB sees only flow counts). Each is given by its mean, so the offered load of
// --load stays what it says whatever the shape.
//
//   exp                  exponential with the mean
//   lognormal:SIGMA      ln(work) normal with standard deviation SIGMA (> 0, <= 4), the mean kept
//   pareto:ALPHA[:SPAN]  bounded Pareto, tail index ALPHA (0.5 .. 4; 1 excluded), upper bound
//                        SPAN x the lower one (default 10^4, 2 .. 10^9), the mean kept
#pragma once

#include <marllb/shm.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace marllb::sim {

class WorkDist {
public:
    enum class Kind : std::uint8_t { exponential, lognormal, bounded_pareto };

    WorkDist() = default; // exponential, mean 0.05 core-seconds
    // spec as above, mean in core-seconds (> 0); an error names what was wrong.
    [[nodiscard]] static shm::Expected<WorkDist> parse(std::string_view spec, double mean_s);

    template <class Rng> [[nodiscard]] double sample(Rng &rng) const {
        switch (kind_) {
        case Kind::exponential: return std::exponential_distribution<double>(1.0 / mean_)(rng);
        case Kind::lognormal: return std::lognormal_distribution<double>(mu_, sigma_)(rng);
        case Kind::bounded_pareto: return quantile(std::uniform_real_distribution<double>(0.0, 1.0)(rng));
        }
        return mean_;
    }
    // The analytic quantile at u in [0, 1) and the mean (for tests and reports).
    [[nodiscard]] double quantile(double u) const noexcept;
    [[nodiscard]] double mean() const noexcept { return mean_; }
    [[nodiscard]] Kind kind() const noexcept { return kind_; }
    [[nodiscard]] const std::string &spec() const noexcept { return spec_; }
    // Bounded Pareto: its lower and upper bounds.
    [[nodiscard]] double low() const noexcept { return low_; }
    [[nodiscard]] double high() const noexcept { return high_; }

private:
    Kind kind_ = Kind::exponential;
    std::string spec_ = "exp";
    double mean_ = 0.05;
    double mu_ = 0, sigma_ = 0;               // lognormal
    double alpha_ = 0, low_ = 0, high_ = 0;   // bounded Pareto
};

} // namespace marllb::sim
