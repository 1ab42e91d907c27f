#ifndef CASHPOINT_CCRYPT_SHIM_H
#define CASHPOINT_CCRYPT_SHIM_H
#include <crypt.h>
#endif
