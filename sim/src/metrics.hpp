// Quality metrics of a run: Jain's fairness index and percentiles.
#pragma once

#include <marllb/measure/percentile.hpp>

#include <vector>

namespace marllb::sim {

// Jain's index (sum x)^2 / (n sum x^2): 1 when all equal, 1/n when one takes all; 1 for no data.
[[nodiscard]] inline double jain_index(const std::vector<double> &x) noexcept {
    double s = 0, s2 = 0;
    for (double v : x) { s += v; s2 += v * v; }
    return s2 > 0 ? s * s / (double(x.size()) * s2) : 1.0;
}

// Percentiles: the project's one definition (linear interpolation, marllb/measure/percentile.hpp).
using measure::quantile;

} // namespace marllb::sim
