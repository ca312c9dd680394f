#include <mpi.h>

// MPI's handles are macros over implementation symbols (Open MPI: addresses of global objects), which Swift
// cannot import; these give them to Swift as functions.
static inline MPI_Comm munitc_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype munitc_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype munitc_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Op munitc_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Errhandler munitc_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int munitc_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }

// The in-place non-blocking sum of MUNIT's collectives, and waiting for it.
static inline int munitc_mpi_iallreduce_sum(void *buffer, int count, MPI_Datatype type, MPI_Request *request) {
    return MPI_Iallreduce(MPI_IN_PLACE, buffer, count, type, MPI_SUM, MPI_COMM_WORLD, request);
}
static inline int munitc_mpi_wait(MPI_Request *request) { return MPI_Wait(request, MPI_STATUS_IGNORE); }
static inline int munitc_mpi_test(MPI_Request *request, int *done) { return MPI_Test(request, done, MPI_STATUS_IGNORE); }
