// The one percentile definition of the project's measurements: linear interpolation between
// the two nearest order statistics (Hyndman and Fan's type 7, numpy's default), the same rule
// the LB's reservoir features use for their p90.
//
// For n sorted values x[0] <= ... <= x[n-1] and 0 <= q <= 1:
//   h = q (n - 1),  quantile(q) = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])
// so quantile(0) is the minimum, quantile(1) the maximum, and quantile(0.5) of {1, 2, 3, 4}
// is 2.5. A reported p99 can lie between two observed values; `max` is always observed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace marllb::measure {

// Throws std::domain_error unless 0 <= q <= 1 (a percentile is 100 q: p99 is q = 0.99).
inline void check_q(double q) {
    if (!(q >= 0.0 && q <= 1.0))
        throw std::domain_error("quantile: q = " + std::to_string(q) + " is outside [0, 1] (p99 is q = 0.99)");
}

// The q-quantile of values already sorted ascending; 0 for no data.
template <class T> [[nodiscard]] double quantile_sorted(const std::vector<T> &x, double q) {
    check_q(q);
    if (x.empty()) return 0;
    const double h = q * double(x.size() - 1);
    const std::size_t lo = std::size_t(h);
    const double a = double(x[lo]);
    if (lo + 1 >= x.size()) return a;
    return a + (h - double(lo)) * (double(x[lo + 1]) - a);
}

// The q-quantile of unsorted values (a copy is partially sorted: O(n)); 0 for no data.
template <class T> [[nodiscard]] double quantile(std::vector<T> v, double q) {
    check_q(q);
    if (v.empty()) return 0;
    const double h = q * double(v.size() - 1);
    const std::size_t lo = std::size_t(h);
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(lo), v.end());
    const double a = double(v[lo]);
    if (lo + 1 >= v.size()) return a;
    // After nth_element everything right of lo is >= v[lo]: the next order statistic is their minimum.
    const double b = double(*std::min_element(v.begin() + std::ptrdiff_t(lo) + 1, v.end()));
    return a + (h - double(lo)) * (b - a);
}

// The distribution every latency row reports.
struct Summary {
    std::size_t count = 0;
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

// count, p50, p90, p99, p99.9 (by quantile() above) and max; all 0 for no data.
[[nodiscard]] Summary summarize(std::vector<double> v);

template <class T> [[nodiscard]] Summary summarize(const std::vector<T> &v) {
    return summarize(std::vector<double>(v.begin(), v.end()));
}

} // namespace marllb::measure
