// OpenSSL's error queue as text for the benchmark clients' messages.
#pragma once

#include <string>

namespace ktls::bench {

// The oldest error queued in this thread, as OpenSSL words it; the queue is cleared, so
// the next failure does not report this one again.
std::string OpenSslError();

}  // namespace ktls::bench
