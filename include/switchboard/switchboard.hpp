#pragma once

// The whole public C++ SDK: include this one header.

#include "switchboard/call_client.hpp"
#include "switchboard/data_channel.hpp"
#include "switchboard/e2ee.hpp"
#include "switchboard/error.hpp"
#include "switchboard/file_transfer.hpp"
#include "switchboard/options.hpp"
#include "switchboard/result.hpp"
