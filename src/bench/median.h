// The median of repeated measurements: a run slowed by other work on a shared machine
// moves it less than it moves the mean.
#pragma once

#include <vector>

namespace ktls::bench {

// The middle value, or the mean of the two middle ones; 0 for no values.
double Median(std::vector<double> values);

}  // namespace ktls::bench
