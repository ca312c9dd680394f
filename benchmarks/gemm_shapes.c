/* The float32 GEMM shapes MUNIT's convolutions issue (NVlabs' default config), timed on one GEMM library:
 * the measurement behind munitc's choice of GEMM provider (docs/GEMM.md). Row-major C = A·B, best of 7.
 *
 *   cc -O2 benchmarks/gemm_shapes.c -o gemm_openblas -lopenblas
 *   cc -O2 -I/usr/include/blis benchmarks/gemm_shapes.c -o gemm_blis -lblis          (libblis-dev)
 *   cc -O2 -DUSE_DNNL benchmarks/gemm_shapes.c -o gemm_onednn -ldnnl                  (libdnnl-dev)
 *   OPENBLAS_NUM_THREADS=2 ./gemm_openblas; BLIS_NUM_THREADS=2 ./gemm_blis; OMP_NUM_THREADS=2 ./gemm_onednn
 *
 * munitc itself needs none of this: it links OpenBLAS only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef USE_DNNL
#include <dnnl.h>
#define GEMM(M,N,K,A,B,C) dnnl_sgemm('N','N',M,N,K,1.0f,A,K,B,N,0.0f,C,N)
#else
#include <cblas.h>
#define GEMM(M,N,K,A,B,C) cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,M,N,K,1.0f,A,K,B,N,0.0f,C,N)
#endif
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(){
  int shapes[][4]={{256,256,2304,1},{256,2304,256,1},{2304,256,256,1},{128,1024,1024,1},{256,64,256,16},{256,256,256,16},{256,4096,2304,1},{64,4096,1600,1},{3,4096,3136,1}};
  const char*names[]={"res3x3 fwd 16x16","res3x3 wgrad 16x16","res3x3 dgrad 16x16","down4x4 64->128 @64","winograd 16x16 (x16)","winograd 32x32 (x16)","res3x3 fwd 64x64","up5x5 ->64 @64 class","7x7 64->3 @64"};
  int n=sizeof(shapes)/sizeof(shapes[0]);
  for(int s=0;s<n;s++){int M=shapes[s][0],N=shapes[s][1],K=shapes[s][2],R=shapes[s][3];
    float*A=malloc(4L*M*K*R),*B=malloc(4L*K*N*R),*C=malloc(4L*M*N*R);
    for(long i=0;i<(long)M*K*R;i++)A[i]=(i%7)*0.1f; for(long i=0;i<(long)K*N*R;i++)B[i]=(i%5)*0.1f;
    for(int r=0;r<R;r++)GEMM(M,N,K,A+(long)r*M*K,B+(long)r*K*N,C+(long)r*M*N);
    double best=1e9; for(int it=0;it<7;it++){double t0=now(); for(int r=0;r<R;r++)GEMM(M,N,K,A+(long)r*M*K,B+(long)r*K*N,C+(long)r*M*N); double t=now()-t0; if(t<best)best=t;}
    printf("%-24s %5dx%5dx%5d x%-2d %8.1f GFLOP/s %8.3f ms\n",names[s],M,N,K,R,2.0*M*N*K*R/best/1e9,best*1e3);
    free(A);free(B);free(C);}
}
