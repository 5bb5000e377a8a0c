"""Writes the v0.1 compatibility fixtures. Run once, on commit dab749d (v0.1), as

    python tests/testdata/v0_1/make_fixtures.py tests/testdata/v0_1

The files it wrote are what users saved with v0.1; tests/serving/compat_test.py loads them.
"""
import json, os, sys
import numpy as np
import keras
import tfp_nfvi
from tfp_nfvi import models, serving, data
out = sys.argv[1]
x = data.load_binarized_mnist("embedded").train[:8].astype("float32")
vae = models.FlowVAE(latent_dim=4, flow="planar*2,iaf*1", encoder_units=(16,), decoder_units=(16,),
                     seed=0, posterior_kwargs={"hidden_units": [8]})
vae.build((None, 784))
vae.compile(jit_compile=False)
vae.fit(x, batch_size=4, epochs=1, verbose=0)
vae.save(os.path.join(out, "flow_vae_planar2_iaf1.keras"))
serving.export_saved_model(vae, os.path.join(out, "flow_vae_planar2_iaf1_savedmodel"), num_samples=16, overwrite=True)
z, log_q = vae.encode(x, seed=[1, 2])[:2]
sm_z = vae.encode(x[:4], seed=[7, 0])[0]
sm_ll = vae.log_likelihood(x[:4], num_samples=16, seed=[9, 0])
ref = {
  "x": x[:4].tolist(),
  "encode_seed": [1, 2], "serving_encode_seed": 7, "serving_z": np.asarray(sm_z).tolist(), "serving_log_likelihood_seed_9": np.asarray(sm_ll).tolist(),
  "z": np.asarray(z)[:4].tolist(), "log_q": np.asarray(log_q)[:4].tolist(),
  "elbo_seed_3_4": np.asarray(vae.elbo(x[:4], seed=[3, 4])).tolist(),
  "log_likelihood_S16_seed_5_6": np.asarray(vae.log_likelihood(x[:4], num_samples=16, seed=[5, 6])).tolist(),
  "decode_probs_of_z": np.asarray(vae.likelihood_distribution(z[:4]).mean()).tolist(),
}
json.dump(ref, open(os.path.join(out, "flow_vae_planar2_iaf1_outputs.json"), "w"))
print("ok", tfp_nfvi.__version__)
