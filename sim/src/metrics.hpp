// Quality metrics of a run: Jain's fairness index and percentiles.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace marllb::sim {

// Jain's index (sum x)^2 / (n sum x^2): 1 when all equal, 1/n when one takes all; 1 for no data.
[[nodiscard]] inline double jain_index(const std::vector<double> &x) noexcept {
    double s = 0, s2 = 0;
    for (double v : x) { s += v; s2 += v * v; }
    return s2 > 0 ? s * s / (double(x.size()) * s2) : 1.0;
}

// The q-quantile by linear interpolation (numpy's default); 0 for no data. Copies.
template <class T> [[nodiscard]] double quantile(std::vector<T> v, double q) {
    if (v.empty()) return 0;
    const double pos = q * double(v.size() - 1);
    const std::size_t lo = std::size_t(pos);
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(lo), v.end());
    const double a = double(v[lo]);
    if (lo + 1 >= v.size()) return a;
    const double b = double(*std::min_element(v.begin() + std::ptrdiff_t(lo) + 1, v.end()));
    return a + (pos - double(lo)) * (b - a);
}

} // namespace marllb::sim
