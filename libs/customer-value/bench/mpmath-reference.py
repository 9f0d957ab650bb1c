import mpmath as mp, json, random
mp.mp.dps = 50
def cond(r,al,a,b,x,tx,T,t):
    r,al,a,b,x,tx,T,t = map(mp.mpf,(r,al,a,b,x,tx,T,t))
    if a == 1: a = mp.mpf(1) + mp.mpf('1e-30')
    num = (a+b+x-1)/(a-1)*(1-((al+T)/(al+T+t))**(r+x)*mp.hyp2f1(r+x,b+x,a+b+x-1,t/(al+T+t)))
    den = 1 + (a/(b+x-1)*((al+T)/(al+tx))**(r+x) if x>0 else 0)
    return float(num/den)
cases=[]
random.seed(7)
fixed=[(0.243,4.414,0.793,2.426,2,30.43,38.86,39),(0.243,4.414,0.793,2.426,0,0,38.86,39),(0.243,4.414,0.793,2.426,0,0,0,39),
 (0.243,4.414,0.793,2.426,0,0,0,1000),(0.243,4.414,0.793,2.426,5,30,38.86,5000),(0.243,4.414,1.0,2.426,3,20,38.86,100),
 (0.5,2,1.0000001,0.5,0,0,1,100),(0.3,4,0.2,0.5,0,0,0.5,200),(0.3,4,0.2,0.8,0,0,0,300),(1.2,3,0.2,0.5,1,1,2,300),
 (0.243,4.414,0.793,2.426,200,38,38.86,39),(0.243,4.414,0.793,2.426,5000,38,38.86,52),(2,1,1.5,3,1,0.5,1,1e4),
 (0.7,1,1.7,3,0,0,0,50),(0.7,1,1.7,3,2,1,2,50),(5,0.01,3,0.1,1,0,0.001,100),(0.01,100,0.05,50,0,0,10,1e5)]
for c in fixed: cases.append(list(c)+[cond(*c)])
for i in range(60):
    r=10**random.uniform(-2,1.5); al=10**random.uniform(-2,2.5); a=10**random.uniform(-2,1.5); b=10**random.uniform(-2,1.5)
    x=random.choice([0,0,1,2,3,7,20,100]); T=10**random.uniform(-2,2.5); tx=random.uniform(0,T) if x>0 else 0
    t=10**random.uniform(-1,3.5)
    cases.append([r,al,a,b,x,tx,T,t,cond(r,al,a,b,x,tx,T,t)])
h=[]
for (a,b,c,z) in [(1,1,2,0.3),(1,1,2,0.9),(1,1,2,-5),(0.5,0.5,1.5,0.99),(2.5,-1.3,0.7,0.75),(1.976,-0.207,3.219,0.97),(0.3,0.4,0.7,0.999999),(3,2,5,0.8),(3,2,6,0.8),(1.5,2.5,-0.5,0.6),(1.5,2.5,-0.5,-30),(10,12,30,0.95),(-3,2,1.5,0.9),(0.2,0.3,4,1)]:
    h.append([a,b,c,z,float(mp.hyp2f1(a,b,c,z))])
json.dump({'expectation':cases,'hyp2f1':h},open('/tmp/customer-value-reference.json','w'))
print(len(cases))
