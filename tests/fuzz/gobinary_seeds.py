#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Writes the seed corpus of fuzz_gobinary into tests/fuzz/corpus/gobinary/.

Needs `make` to have built build/workloads/goseed-sw, clang and objcopy (for
the DWARF of a runtime.g-shaped C struct). Three kinds of seeds:
  clean*, scan*, p*   patches of the bases the target loads (goseed-sw, -w,
                      trimmed goseed), with a goroutine scan of
                      corpus/gopclntab/scan_leak's memory for some;
  raw_mini, raw_outofline, raw_head
                      tiny ELFs around a real .go.buildinfo and
                      corpus/gopclntab/pcln_main's pclntab;
  raw_full*           a small complete go1.19 binary: synthetic pclntab
                      (runtime.allgadd with real code, main.main with an
                      inlined call, runtime.goexit, runtime.gopark),
                      moduledata, DWARF for runtime.g, optional .symtab with
                      runtime.waitReasonStrings, and a parked goroutine.
Patch offsets other than the named regions' (truncation points) are those of
the goseed-sw that go1.19.8 builds; elsewhere they still truncate somewhere.
Run from the repository root: python3 tests/fuzz/gobinary_seeds.py
"""
import os, struct, subprocess, tempfile
ROOT=os.path.dirname(os.path.abspath(__file__))+'/../..'
os.chdir(ROOT)
OUT='tests/fuzz/corpus/gobinary'
os.makedirs(OUT, exist_ok=True)

# ---- DWARF for runtime.g, runtime.stack, runtime.gobuf (go1.19 offsets) ----
G_C = r"""
struct runtimeXstack { unsigned long lo, hi; };
struct runtimeXgobuf { unsigned long sp, pc, g, ctxt, ret, lr, bp; };
struct runtimeXg {
	struct runtimeXstack stack;
	unsigned long stackguard0, stackguard1, _panic, _defer, m;
	struct runtimeXgobuf sched;                          /* 56 */
	unsigned long syscallsp, syscallpc, stktopsp, param;
	unsigned int atomicstatus;                           /* 144 */
	unsigned int stackLock;
	long goid;                                           /* 152 */
	unsigned long schedlink;
	long waitsince;                                      /* 168 */
	unsigned char waitreason;                            /* 176 */
	unsigned char pad[296 - 177];
	unsigned long gopc;                                  /* 296 */
	unsigned long ancestors;
	unsigned long startpc;                               /* 312 */
};
struct runtimeXg g0;
"""
def section(path, name):
    out=subprocess.check_output(['readelf','-SW',path]).decode()
    for l in out.splitlines():
        if ' %s '%name in l:
            f=l.split(']')[1].split(); off=int(f[3],16); sz=int(f[4],16)
            return open(path,'rb').read()[off:off+sz]
    raise SystemExit('%s has no %s'%(path,name))

def dwarf_sections():
    with tempfile.TemporaryDirectory() as d:
        open(d+'/g.c','w').write(G_C)
        subprocess.check_call(['clang','-g','-gdwarf-4','-O0','-shared','-nostdlib','-fPIC',
                               d+'/g.c','-o',d+'/g.so'])
        subprocess.check_call(['objcopy']+['--dump-section=.debug_%s=%s/%s.bin'%(s,d,s)
                               for s in ('info','abbrev','str')]+[d+'/g.so','/dev/null'])
        r={s:open('%s/%s.bin'%(d,s),'rb').read() for s in ('info','abbrev','str')}
    r['str']=r['str'].replace(b'runtimeX',b'runtime.')
    return r

# ---- the bases as they are ----
sl0=open('tests/fuzz/corpus/gopclntab/scan_leak','rb').read()
assert sl0[0]==3
for m in range(3):
    open(OUT+'/clean%d'%m,'wb').write(bytes([m,0]))
    open(OUT+'/scan%d'%m,'wb').write(bytes([m|4,0])+sl0[1:])

# ---- patches of the bases ----
NREG=19
sl=open('tests/fuzz/corpus/gopclntab/scan_leak','rb').read()[1:]
def P(region,off,b): return bytes([region,len(b)])+struct.pack('<I',off)+b
def T(off): return bytes([NREG,0])+struct.pack('<I',off)
def seed(name,mode,patches,scan=None):
    b=bytes([mode|(4 if scan is not None else 0),len(patches)])+b''.join(patches)
    if scan is not None: b+=scan
    open(OUT+'/'+name,'wb').write(b)
bi=section('build/workloads/goseed-sw','.go.buildinfo')
v=bi.index(b'go1.19')
seed('p0_go120',0,[P(3,v,b'go1.20')])
seed('p0_buildinfo_noinline',0,[P(3,15,b'\0')])
seed('p0_md_zero',0,[P(7,0,b'\0'*8)])
seed('p0_md_etext',0,[P(7,0x70,b'\0'*8)],scan=sl)
seed('p0_allgadd_nop',0,[P(8,0,b'\x90'*16)])
seed('p0_allgadd_mid',0,[P(8,0x20,b'\xcc'*4)])
seed('p0_pcln_nfunc',0,[P(4,8,b'\xff\xff\xff\x0f')])
seed('p0_pcln_ftab',0,[P(5,0x800,b'\xff\xff\xff\x7f')],scan=sl)
seed('p0_pcln_magic',0,[P(4,0,b'\xf1')])
seed('p0_trunc_pcln',0,[T(0x371f20+0x90000)])
seed('p0_trunc_data',0,[T(0x4cd900)])
seed('p0_shdr_gopclntab',0,[P(1,64*15+4,b'\x08')])
seed('p0_phdr_filesz',0,[P(0,64+56*2+32,b'\0\0\x01\0')])
seed('p0_gofunc',0,[P(17,0,b'\xff'*32)],scan=sl)
seed('p1_sym_allgs_zero',1,[P(9,8,b'\0'*8)])
seed('p1_sym_allglen',1,[P(10,8,b'\x10\0\0\0\0\0\0\0')],scan=sl)
seed('p1_sym_md',1,[P(13,8,b'\x08\0\0\0')])
seed('p1_wr_len',1,[P(14,24,b'\x00\x10')],scan=sl)
seed('p1_wr_size',1,[P(12,16,b'\x00\x10')])
seed('p2_dwarf_info',2,[P(15,0x200,b'\xff\xff')])
seed('p2_dwarf_abbrev',2,[P(16,0x10,b'\x00')])
seed('p2_trunc_dwarf',2,[T(0x502400+0x100000)],scan=sl)
seed('p2_shstrtab',2,[P(2,0x30,b'X')])

# ---- tiny ELFs around the real build info ----
W='build/workloads/goseed-sw'
pm=open('tests/fuzz/corpus/gopclntab/pcln_main','rb').read()
n=struct.unpack('<I',pm[1:5])[0]; pcl=pm[5:5+n]
elf=open(W,'rb').read()
bi=section(W,'.go.buildinfo')
text=struct.unpack('<Q',pcl[24:32])[0]
def align(b,a): return b+b'\0'*((-len(b))%a)
def build(sections=True, outofline=False, symtab=True):
    RO_OFF=0x1000; RO_VA=0x600000+RO_OFF
    ro=align(pcl,16)
    RW_OFF=RO_OFF+len(ro); RW_OFF+=(-RW_OFF)%0x1000; RW_VA=0x800000+RW_OFF
    if outofline:
        # Go < 1.18: header then pointers to {ptr,len} strings
        ver=b'go1.19.13'
        hdr=b'\xff Go buildinf:'+bytes([8,0])
        strs_va=RW_VA+0x40
        rw=hdr+struct.pack('<QQ',strs_va,0)
        rw=align(rw,0x40)+struct.pack('<QQ',RW_VA+0x60,len(ver))
        rw=align(rw,0x60)+ver
        rw=align(rw,0x100)
    else:
        rw=align(bi,0x100)
    allgs_va=RW_VA+len(rw)
    rw+=b'\0'*0x40
    shstr=b'\0.gopclntab\0.go.buildinfo\0.symtab\0.strtab\0.shstrtab\0.noptrdata\0'
    def nm(s): return shstr.index(s.encode()+b'\0')
    strtab=b'\0runtime.allgs\0runtime.allglen\0'
    syms=b'\0'*24+struct.pack('<IBBHQQ',1,0x11,0,3,allgs_va,24)
    f=bytearray(RO_OFF)
    f+=ro; f+=b'\0'*(RW_OFF-len(f)); f+=rw
    symoff=len(f); f+=syms; stroff=len(f); f+=strtab; shoff_str=len(f); f+=shstr
    f+=b'\0'*((-len(f))%8); shoff=len(f)
    sh=[struct.pack('<IIQQQQIIQQ',0,0,0,0,0,0,0,0,0,0),
        struct.pack('<IIQQQQIIQQ',nm('.gopclntab'),1,2,RO_VA,RO_OFF,len(pcl),0,0,32,0),
        struct.pack('<IIQQQQIIQQ',nm('.go.buildinfo'),1,3,RW_VA,RW_OFF,len(bi) if not outofline else 0x100,0,0,16,0)]
    if symtab:
        sh+=[struct.pack('<IIQQQQIIQQ',nm('.symtab'),2,0,0,symoff,len(syms),4,1,8,24),
             struct.pack('<IIQQQQIIQQ',nm('.strtab'),3,0,0,stroff,len(strtab),0,0,1,0)]
    sh+=[struct.pack('<IIQQQQIIQQ',nm('.shstrtab'),3,0,0,shoff_str,len(shstr),0,0,1,0)]
    if sections: f+=b''.join(sh)
    ehdr=struct.pack('<16sHHIQQQIHHHHHH',b'\x7fELF\x02\x01\x01'+b'\0'*9,2,62,1,text,64,
                     shoff if sections else 0,0,64,56,2,64,len(sh) if sections else 0,len(sh)-1 if sections else 0)
    ph=struct.pack('<IIQQQQQQ',1,4,RO_OFF,RO_VA,RO_VA,len(ro),len(ro),0x1000)
    ph+=struct.pack('<IIQQQQQQ',1,6,RW_OFF,RW_VA,RW_VA,len(rw),len(rw)+0x1000,0x1000)
    f[0:64]=ehdr; f[64:64+112]=ph
    return bytes(f)
def raw(name,b,scan=b''):
    open(OUT+'/'+name,'wb').write(bytes([3|(4 if scan else 0)])+struct.pack('<I',len(b))+b+scan)
raw('raw_mini',build())
raw('raw_outofline',build(outofline=True))
raw('raw_head',elf[:4096])

# ---- a small complete go1.19 binary ----
D='tests/fuzz/corpus/gopclntab/'
allgadd=open(D+'allgadd','rb').read()[1:]          # code as loaded at 0x401000
bi=section('build/workloads/goseed-sw','.go.buildinfo')
dw=dwarf_sections()
TEXT=0x401000
def uv(x):
    o=b''
    while True:
        b=x&0x7f; x>>=7
        if x: o+=bytes([b|0x80])
        else: return o+bytes([b])
def pcv(runs):           # [(value, len)] -> pcvalue table
    o=b''; v=-1
    for val,ln in runs:
        d=val-v; z=(d<<1)^(d>>63); o+=uv(z & ((1<<64)-1))+uv(ln); v=val
    return o+b'\0'
funcs=[  # name, off, size, file, line, flag, inline
    ('runtime.allgadd',0x000,0x180,0,500,0,False),
    ('main.main',      0x180,0x40, 1,10,0,True),
    ('runtime.goexit', 0x1c0,0x10, 0,1600,1,False),
    ('runtime.gopark', 0x1d0,0x30, 0,360,0,False),
]
ETEXT=0x200
names=b''; noff={}
for n in [f[0] for f in funcs]+['main.helper']:
    noff[n]=len(names); names+=n.encode()+b'\0'
files=b''; foff=[]
for f in ['/usr/lib/go/src/runtime/proc.go','/work/seed/main.go']:
    foff.append(len(files)); files+=f.encode()+b'\0'
cutab=struct.pack('<II',*foff)
pctab=b'\0'; fn_pc={}
for name,off,size,fi,line,flag,inl in funcs:
    e={}
    e['sp']=len(pctab); pctab+=pcv([(0,8),(0x48,size-8)])
    e['file']=len(pctab); pctab+=pcv([(fi,size)])
    e['ln']=len(pctab); pctab+=pcv([(line,0x10),(line+3,size-0x10)])
    if inl:
        e['inl']=len(pctab); pctab+=pcv([(-1,0x18),(0,0x10),(-1,size-0x28)])
    fn_pc[name]=e
gofunc=struct.pack('<hBBiiii',-1,0,0,1,12,noff['main.helper'],0x10)
nf=len(funcs)
ftab_len=8*(nf+1)
fstructs=b''; ftab=b''
for name,off,size,fi,line,flag,inl in funcs:
    e=fn_pc[name]
    npc=3 if inl else 0; nfd=4 if inl else 0
    fo=ftab_len+len(fstructs)
    ftab+=struct.pack('<II',off,fo)
    fstructs+=struct.pack('<IiiIIIIII',off,noff[name],0,0,e['sp'],e['file'],e['ln'],npc,0)
    fstructs+=bytes([0,flag,0,nfd])
    if inl:
        fstructs+=struct.pack('<III',0,0,e['inl'])+struct.pack('<IIII',0xffffffff,0xffffffff,0xffffffff,0)
ftab+=struct.pack('<II',ETEXT,0)
pclntable=ftab+fstructs
hdr_len=72
o_names=hdr_len; o_cu=o_names+len(names); o_files=o_cu+len(cutab); o_pc=o_files+len(files)
o_pcln=o_pc+len(pctab); o_pcln+=(-o_pcln)%8
pcl=struct.pack('<IBBBBqQQQQQQQ',0xfffffff0,0,0,1,8,nf,2,TEXT,o_names,o_cu,o_files,o_pc,o_pcln)
pcl+=names+cutab+files+pctab; pcl+=b'\0'*(o_pcln-len(pcl)); pcl+=pclntable
assert len(pcl[:72])==72
def align(b,a): return b+b'\0'*((-len(b))%a)
text=allgadd+b'\xcc'*(ETEXT-len(allgadd))
def build(sections=True, dwarf=True, moduledata=True, symtab=False):
    TX_OFF=0x1000; TX_VA=TEXT
    RO_OFF=TX_OFF+0x1000; RO_VA=0x600000
    ro=align(pcl,32); GOFUNC_VA=RO_VA+len(ro); ro+=align(gofunc,32)
    WRS=[b'',b'GC assist marking',b'chan receive',b'sync.Mutex.Lock']
    wrs_va=[]
    for w in WRS: wrs_va.append(RO_VA+len(ro)); ro+=w
    ro=align(ro,32)
    RW_OFF=RO_OFF+len(ro); RW_OFF+=(-RW_OFF)%0x1000; RW_VA=0x8c3000
    rw=align(bi,0x100)
    MD_VA=RW_VA+len(rw)
    md=bytearray(312)
    P=RO_VA
    def put(o,v): md[o:o+8]=struct.pack('<Q',v)
    put(0,P); put(8,P+o_names); put(32,P+o_cu); put(56,P+o_files); put(80,P+o_pc)
    put(104,P+o_pcln); put(128,P+o_pcln); put(176,TEXT); put(184,TEXT+ETEXT); put(304,GOFUNC_VA)
    if moduledata: rw+=bytes(md)
    rw=align(rw,0x100)
    WR_VA=RW_VA+len(rw)
    for w,va in zip(WRS,wrs_va): rw+=struct.pack('<QQ',va if w else 0,len(w))
    rw=align(rw,0x100)
    shstr=b'\0.symtab\0.strtab\0.text\0.gopclntab\0.go.buildinfo\0.noptrdata\0.debug_info\0.debug_abbrev\0.debug_str\0.shstrtab\0'
    def nm(s): return shstr.index(s.encode()+b'\0')
    f=bytearray(TX_OFF); f+=text; f+=b'\0'*(RO_OFF-len(f)); f+=ro; f+=b'\0'*(RW_OFF-len(f)); f+=rw
    sh=[bytes(64),
        struct.pack('<IIQQQQIIQQ',nm('.text'),1,6,TX_VA,TX_OFF,len(text),0,0,32,0),
        struct.pack('<IIQQQQIIQQ',nm('.gopclntab'),1,2,RO_VA,RO_OFF,len(pcl),0,0,32,0),
        struct.pack('<IIQQQQIIQQ',nm('.go.buildinfo'),1,3,RW_VA,RW_OFF,len(bi),0,0,16,0),
        struct.pack('<IIQQQQIIQQ',nm('.noptrdata'),1,3,MD_VA,RW_OFF+(MD_VA-RW_VA),len(rw)-(MD_VA-RW_VA),0,0,32,0)]
    if dwarf:
        for s in ('info','abbrev','str'):
            o=len(f); f+=dw[s]
            sh.append(struct.pack('<IIQQQQIIQQ',nm('.debug_'+s),1,0x30 if s=='str' else 0,0,o,len(dw[s]),0,0,1,1 if s=='str' else 0))
    if symtab:
        strtab=b'\0'; syms=bytes(24)
        for n,v,sz in [('runtime.allgs',0x8c8e30,24),('runtime.allglen',0x8f97a8,8),('runtime.allgptr',0x8c7a98,8),
                       ('runtime.waitReasonStrings',WR_VA,16*len(WRS)),('runtime.firstmoduledata',MD_VA,312),('main.main',TEXT+0x180,0x40)]:
            syms+=struct.pack('<IBBHQQ',len(strtab),0x11,0,3,v,sz); strtab+=n.encode()+b'\0'
        si=len(sh)
        o=len(f); f+=syms
        sh.append(struct.pack('<IIQQQQIIQQ',nm('.symtab'),2,0,0,o,len(syms),si+1,1,8,24))
        o=len(f); f+=strtab
        sh.append(struct.pack('<IIQQQQIIQQ',nm('.strtab'),3,0,0,o,len(strtab),0,0,1,0))
    o=len(f); f+=shstr
    sh.append(struct.pack('<IIQQQQIIQQ',nm('.shstrtab'),3,0,0,o,len(shstr),0,0,1,0))
    f+=b'\0'*((-len(f))%8); shoff=len(f)
    if sections: f+=b''.join(sh)
    ehdr=struct.pack('<16sHHIQQQIHHHHHH',b'\x7fELF\x02\x01\x01'+b'\0'*9,2,62,1,TEXT,64,
                     shoff if sections else 0,0,64,56,3,64,len(sh) if sections else 0,len(sh)-1 if sections else 0)
    ph=struct.pack('<IIQQQQQQ',1,5,TX_OFF,TX_VA,TX_VA,len(text),len(text),0x1000)
    ph+=struct.pack('<IIQQQQQQ',1,4,RO_OFF,RO_VA,RO_VA,len(ro),len(ro),0x1000)
    ph+=struct.pack('<IIQQQQQQ',1,6,RW_OFF,RW_VA,RW_VA,len(rw),0x40000,0x1000)
    f[0:64]=ehdr; f[64:64+len(ph)]=ph
    return bytes(f)
MEM=0xc000000000
def memory():
    m=bytearray(0x2000)
    G=0x100; LO=0x1000; HI=0x2000
    m[0:8]=struct.pack('<Q',MEM+G)
    def q(o,v): m[o:o+8]=struct.pack('<Q',v)
    q(G+0,MEM+LO); q(G+8,MEM+HI)
    SP=MEM+LO+0x800; BP=SP+0x40
    q(G+56,SP); q(G+64,TEXT+0x1d0+0x10); q(G+104,BP)
    m[G+144:G+148]=struct.pack('<I',4); q(G+152,7); q(G+168,123456789); m[G+176]=2
    q(G+296,TEXT+0x180+5); q(G+312,TEXT+0x180)
    # frames: gopark's caller main.main (inlined helper at +0x20), then goexit
    o=BP-MEM; q(o,BP+0x40); q(o+8,TEXT+0x180+0x21)
    o=BP+0x40-MEM; q(o,0); q(o+8,TEXT+0x1c0+1)
    return bytes([1])+bytes(m)
def raw(name,b,scan=None):
    open(OUT+'/'+name,'wb').write(bytes([3|(4 if scan is not None else 0)])+struct.pack('<I',len(b))+b+(scan or b''))
raw('raw_full',build())
raw('raw_full_scan',build(),memory())
raw('raw_full_noshdr',build(sections=False),memory())
raw('raw_full_symtab',build(symtab=True),memory())
raw('raw_full_nomd',build(moduledata=False, dwarf=False))
