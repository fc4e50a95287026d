/* ktls library version. */
#ifndef KTLS_VERSION_H_
#define KTLS_VERSION_H_

#ifdef __cplusplus
extern "C" {
#endif

/* ktls_version returns the library version as "MAJOR.MINOR.PATCH". */
const char* ktls_version(void);

#ifdef __cplusplus
}
#endif

#endif /* KTLS_VERSION_H_ */
