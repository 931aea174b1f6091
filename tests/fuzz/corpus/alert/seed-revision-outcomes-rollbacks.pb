
ca-7f3a	"api*prod:2
i-1€€İéÿãõ"api*prodb
INC-1"	5xx spikeB]
D-12d-12api"prod*1.0.1221.0.11@¬IÃõ(\Âí?Rsame service and environmentp€ÊÒ‹÷ãõxB
W-3web*2.1.0@ØIš™™™™™Ù?H€„ÛÅÊˆäõR1.0.11Xba second outcome joinedbevery outcome resolvedhp€À¿£Ìèäõz5
incidentINC-1i-1"	5xx spike(€€İéÿãõ0€€ôöÕÅäõz7
alertc0ffeea-1"HighErrorRate(€°úßÈäõ0€À¿£Ìèäõ‚
api1.0.11D-12"1.0.12(‚
webW-3"2.1.0