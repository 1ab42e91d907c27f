#ifndef CASHPOINT_CQRENCODE_SHIM_H
#define CASHPOINT_CQRENCODE_SHIM_H
#include <qrencode.h>
#endif
