// The native socket API of lrp in one include: Stack (one per interface),
// Application (a scheduled set of sockets) and UdpSocket.
#pragma once

#include "sockets/api/application.h"
#include "sockets/api/datagrams.h"
#include "sockets/api/options.h"
#include "sockets/api/stack.h"
#include "sockets/api/udp_socket.h"
