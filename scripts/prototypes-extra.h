/* Functions every ELF program calls that no libc6-dev header declares, declared as their
 * specifications state them, for scripts/gen-prototypes.py.
 *
 * glibc csu/libc-start.c (the start files call it with these seven arguments). */
int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
                      void (*init)(void), void (*fini)(void), void (*rtld_fini)(void),
                      void *stack_end);

/* The Itanium C++ ABI, sections 2.9.5 (guards), 3.3.5 (__cxa_atexit, __cxa_finalize),
 * 3.2.6 (__cxa_pure_virtual, __cxa_deleted_virtual) and the exception handling ABI. */
int __cxa_atexit(void (*f)(void *), void *p, void *d);
void __cxa_finalize(void *d);
int __cxa_guard_acquire(long long *guard);
void __cxa_guard_release(long long *guard);
void __cxa_guard_abort(long long *guard);
void __cxa_pure_virtual(void);
void __cxa_deleted_virtual(void);
void *__cxa_allocate_exception(unsigned long thrown_size);
void __cxa_free_exception(void *thrown_exception);
void __cxa_throw(void *thrown_exception, void *tinfo, void (*dest)(void *));
void *__cxa_begin_catch(void *exception_object);
void __cxa_end_catch(void);
void __cxa_rethrow(void);
void *__cxa_get_exception_ptr(void *exception_object);
void _Unwind_Resume(void *exception_object);

/* The stack protector's failure call (GCC, glibc debug/stack_chk_fail.c). */
void __stack_chk_fail(void);

/* The C++ allocation functions, by their Itanium-mangled names (the parameter types are in
 * the names: m = unsigned long, Pv = void *, St11align_val_t = an unsigned long enum). */
void *operator_new(unsigned long) __asm__("_Znwm");
void *operator_new_array(unsigned long) __asm__("_Znam");
void operator_delete(void *) __asm__("_ZdlPv");
void operator_delete_array(void *) __asm__("_ZdaPv");
void operator_delete_sized(void *, unsigned long) __asm__("_ZdlPvm");
void operator_delete_array_sized(void *, unsigned long) __asm__("_ZdaPvm");
void *operator_new_aligned(unsigned long, unsigned long) __asm__("_ZnwmSt11align_val_t");
void operator_delete_aligned(void *, unsigned long) __asm__("_ZdlPvSt11align_val_t");
