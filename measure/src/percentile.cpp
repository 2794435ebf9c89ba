#include "marllb/measure/percentile.hpp"

namespace marllb::measure {

Summary summarize(std::vector<double> v) {
    Summary s;
    s.count = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.p50 = quantile_sorted(v, 0.50);
    s.p90 = quantile_sorted(v, 0.90);
    s.p99 = quantile_sorted(v, 0.99);
    s.p999 = quantile_sorted(v, 0.999);
    s.max = v.back();
    return s;
}

} // namespace marllb::measure
