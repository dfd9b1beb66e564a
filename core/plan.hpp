// Kept for the sweeper's files until they include core/message_id_key.hpp themselves:
// the milter's edits are core/message_edits.hpp, the Message-ID key core/message_id_key.hpp.
#pragma once

#include "core/message_edits.hpp"
