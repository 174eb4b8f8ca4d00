#ifndef GREET_H
#define GREET_H
#include <stddef.h>

/* Writes "hello, NAME!" into buf (at most size bytes, always terminated).
   Returns the length the full greeting needs, like snprintf. */
int greet(char *buf, size_t size, const char *name);

/* Upper-cases ASCII letters of s in place; returns s. */
char *shout(char *s);

#endif
