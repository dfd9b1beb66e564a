// The libmilter callbacks: they gather the facts of each message, hand them to the
// core at end-of-message, and apply the plan. No policy is decided here.
#pragma once

#include <libmilter/mfapi.h>

namespace rm {

// The filter description to pass to smfi_register().
smfiDesc milter_description();

}  // namespace rm
